package localnode

// SetFreePort makes the ports a node is given come from f until restore is called.
func SetFreePort(f func() (int, error)) (restore func()) {
	old := freePort
	freePort = f
	return func() { freePort = old }
}
