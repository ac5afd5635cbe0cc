package podrun

// ptr returns a pointer to a copy of v, for the API's optional fields.
func ptr[T any](v T) *T { return &v }
