package proxy

// SetDeadlineHook sets testHookDeadline (client.go) until the returned function resets it.
func SetDeadlineHook(f func(closing bool)) (reset func()) {
	testHookDeadline.Store(&f)
	return func() { testHookDeadline.Store(nil) }
}
