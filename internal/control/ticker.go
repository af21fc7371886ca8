package control

import "time"

// stateInterval is how often a waiting caller asks a workflow for its state.
const stateInterval = 500 * time.Millisecond

func newTicker() *time.Ticker { return time.NewTicker(stateInterval) }
