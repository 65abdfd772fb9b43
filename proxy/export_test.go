package proxy

// WithoutPoller makes p read each hub socket with a goroutine of its own (readLoop), as on
// platforms without epoll, so that that path runs in Linux tests too. Before any connection.
func WithoutPoller(p *Proxy) {
	if p.reg.poll != nil {
		p.reg.poll.close()
		p.reg.poll = nil
	}
}
