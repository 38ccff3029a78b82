//go:build linux

package dnsserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg/sendmmsg moves at most.
const batchSize = 32

// inBufSize is the receive buffer per datagram; a longer datagram is cut (MSG_TRUNC) and dropped.
const inBufSize = 4096

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// udpLoopBatch is the UDP read loop with recvmmsg and sendmmsg: up to batchSize queries per system call in
// each direction, as Knot does. Both calls are non-blocking (MSG_DONTWAIT; the poller waits), so they are
// made as raw system calls, without the scheduler's bookkeeping for calls that may block. Datagrams that need the full path are answered one by one. It returns false,
// having read nothing, when the system does not support it.
func (s *Server) udpLoopBatch(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var (
		in     = make([]byte, batchSize*inBufSize)
		names  = make([]unix.RawSockaddrInet6, batchSize)
		iovs   = make([]unix.Iovec, batchSize)
		hdrs   = make([]mmsghdr, batchSize)
		outs   = make([][]byte, batchSize)
		oiovs  = make([]unix.Iovec, batchSize)
		ohdrs  = make([]mmsghdr, batchSize)
		slow   = make([]int, 0, batchSize)
		first  = true
		noMMsg = false
	)
	for i := range batchSize {
		iovs[i].Base = &in[i*inBufSize]
		iovs[i].SetLen(inBufSize)
		hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
		hdrs[i].hdr.Iov = &iovs[i]
		hdrs[i].hdr.SetIovlen(1)
		outs[i] = make([]byte, 0, 4096)
		ohdrs[i].hdr.Iov = &oiovs[i]
		ohdrs[i].hdr.SetIovlen(1)
	}
	for {
		var n int
		var errno unix.Errno
		err := rc.Read(func(fd uintptr) bool {
			for i := range hdrs {
				hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
				hdrs[i].hdr.Flags = 0
				hdrs[i].len = 0
			}
			r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), batchSize,
				unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN {
				return false
			}
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return true // closed
		}
		if errno != 0 {
			if first && (errno == unix.ENOSYS || errno == unix.EOPNOTSUPP) {
				noMMsg = true
			}
			if noMMsg {
				return false
			}
			continue
		}
		first = false
		if s.panicHook != nil {
			s.panicHook(EdgeUDP, "")
		}
		k, slow := 0, slow[:0]
		// answer answers the datagrams from i0 on, under the read lock, on the fast path or by noting them for the
		// full path. A panic is recovered once per batch, not per query: the datagram that caused it gets
		// SERVFAIL, and answer returns the index to go on from.
		answer := func(i0 int) (next int) {
			s.mu.RLock()
			defer s.mu.RUnlock()
			i := i0
			defer func() {
				if v := recover(); v != nil {
					next = i + 1
					if b, ok := s.fastPanicked(v, in[i*inBufSize:i*inBufSize+int(hdrs[i].len)], outs[k][:0]); ok {
						outs[k] = b
						oiovs[k].Base = &b[0]
						oiovs[k].SetLen(len(b))
						ohdrs[k].hdr.Name = hdrs[i].hdr.Name
						ohdrs[k].hdr.Namelen = hdrs[i].hdr.Namelen
						k++
					}
				}
			}()
			for ; i < n; i++ {
				if hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
					continue
				}
				pkt := in[i*inBufSize : i*inBufSize+int(hdrs[i].len)]
				if b, ok := s.fastLocked(pkt, outs[k][:0], true); ok {
					outs[k] = b
					oiovs[k].Base = &b[0]
					oiovs[k].SetLen(len(b))
					ohdrs[k].hdr.Name = hdrs[i].hdr.Name
					ohdrs[k].hdr.Namelen = hdrs[i].hdr.Namelen
					k++
					continue
				}
				slow = append(slow, i)
			}
			return n
		}
		for i := 0; i < n; {
			i = answer(i)
		}
		for _, i := range slow {
			if from, ok := sockaddrToAddrPort(&names[i]); ok {
				s.slowUDP(c, in[i*inBufSize:i*inBufSize+int(hdrs[i].len)], from)
			}
		}
		if k == 0 {
			continue
		}
		sent := 0
		_ = rc.Write(func(fd uintptr) bool {
			for sent < k {
				r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&ohdrs[sent])), uintptr(k-sent),
					unix.MSG_DONTWAIT, 0, 0)
				if e == unix.EAGAIN {
					return false
				}
				if e != 0 {
					sent++ // drop the datagram the kernel refused, go on with the rest
					continue
				}
				sent += int(r)
			}
			return true
		})
	}
}

func sockaddrToAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	}
	return netip.AddrPort{}, false
}
