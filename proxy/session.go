package proxy

import (
	"math/rand/v2"
	"time"
)

// sessionLimit draws one socket's session age: MaxSessionSeconds × uniform(0.9, 1.1), or 0 when
// MaxSessionSeconds is 0 (off). The jitter spreads the reconnects of sockets opened together,
// after a deploy say, instead of bringing them back in one burst.
func (p *Proxy) sessionLimit() time.Duration {
	if p.cfg.MaxSessionSeconds == 0 {
		return 0
	}
	max := time.Duration(p.cfg.MaxSessionSeconds) * time.Second
	return time.Duration(float64(max) * (0.9 + 0.2*rand.Float64()))
}
