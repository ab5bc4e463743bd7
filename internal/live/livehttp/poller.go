package livehttp

// The poller reads what viewers send (pings, pongs, the close handshake)
// for every plain-TCP caption WebSocket of the handlers from one
// goroutine: epoll says which sockets have bytes, so a viewer has no
// reader goroutine (and no stack) of its own. A socket the poller cannot
// watch (TLS: its bytes need the TLS reader) gets a reader goroutine.

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller is one epoll set of viewer sockets; stop wakes its goroutine
// through an eventfd.
type poller struct {
	epfd, stopfd int
	done         chan struct{}
	mu           sync.Mutex
	byFD         map[int32]*wsViewer
}

// newPoller starts a poller; nil when epoll is not to be had (every
// viewer then gets a reader goroutine).
func newPoller() *poller {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	stopfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stopfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stopfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(stopfd)
		return nil
	}
	p := &poller{epfd: epfd, stopfd: stopfd, done: make(chan struct{}), byFD: map[int32]*wsViewer{}}
	go p.run()
	return p
}

// stop ends the poller's goroutine and frees its descriptors (after
// every viewer has ended).
func (p *poller) stop() {
	if p == nil {
		return
	}
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.stopfd, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.stopfd)
}

// watch adds v's socket; false when it cannot be watched (not plain TCP).
func (p *poller) watch(v *wsViewer) bool {
	if p == nil {
		return false
	}
	tc, ok := v.conn.(*net.TCPConn)
	if !ok {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return false
	}
	v.raw, v.fd, v.poll = raw, fd, p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byFD[int32(fd)] = v
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.byFD, int32(fd))
		v.raw = nil
		return false
	}
	return true
}

// forget removes v's socket; call it before the socket closes (its
// descriptor number may be reused at once).
func (p *poller) forget(v *wsViewer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byFD[int32(v.fd)] == v {
		delete(p.byFD, int32(v.fd))
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, v.fd, nil)
	}
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 4096)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.stopfd) {
				return
			}
			p.mu.Lock()
			v := p.byFD[ev.Fd]
			p.mu.Unlock()
			if v != nil {
				v.readReady(buf)
			}
		}
	}
}

// readReady reads what the socket holds without waiting and hands it
// to the viewer.
func (v *wsViewer) readReady(buf []byte) {
	var n int
	var rerr error
	if err := v.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true // never wait: epoll said it is ready
	}); err != nil {
		v.finish()
		return
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EINTR):
	case rerr != nil || n <= 0:
		v.finish()
	default:
		v.received(buf[:n])
	}
}

// readLoop is the reader goroutine of a socket the poller cannot watch
// (src is the connection, or the upgrade's reader holding what the client
// sent early).
func (v *wsViewer) readLoop(src io.Reader, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			v.received(buf[:n])
		}
		if err != nil || v.finished.Load() {
			v.finish()
			return
		}
	}
}
