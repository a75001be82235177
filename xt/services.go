package xt

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The services and protocols databases are read from /etc/services and
// /etc/protocols, as iptables' getservbyname/getprotobyname calls do, so
// that names resolve the same way the real tools resolve them on the host.

type servKey struct{ name, proto string }
type portKey struct {
	port  uint16
	proto string
}

var (
	servOnce   sync.Once
	servByName map[servKey]uint16
	servByPort map[portKey]string
	protoOnce  sync.Once
	protoNames map[string]uint8
	protoNums  map[uint8]string
)

// ServicesFile and ProtocolsFile may be changed by tests before first use.
var (
	ServicesFile  = "/etc/services"
	ProtocolsFile = "/etc/protocols"
)

func loadServices() {
	servByName = map[servKey]uint16{}
	servByPort = map[portKey]string{}
	f, err := os.Open(ServicesFile)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		pp := strings.SplitN(fs[1], "/", 2)
		if len(pp) != 2 {
			continue
		}
		port, err := strconv.Atoi(pp[0])
		if err != nil || port < 0 || port > 65535 {
			continue
		}
		proto := pp[1]
		names := append([]string{fs[0]}, fs[2:]...)
		for _, n := range names {
			k := servKey{n, proto}
			if _, ok := servByName[k]; !ok {
				servByName[k] = uint16(port)
			}
		}
		pk := portKey{uint16(port), proto}
		if _, ok := servByPort[pk]; !ok {
			servByPort[pk] = fs[0]
		}
	}
}

// ServicePort looks a service name up for a protocol ("tcp", "udp", ...).
func ServicePort(name, proto string) (uint16, bool) {
	servOnce.Do(loadServices)
	p, ok := servByName[servKey{name, proto}]
	return p, ok
}

// ServiceName returns the service name of a port, as getservbyport does.
func ServiceName(port uint16, proto string) (string, bool) {
	servOnce.Do(loadServices)
	n, ok := servByPort[portKey{port, proto}]
	return n, ok
}

func loadProtocols() {
	protoNames = map[string]uint8{}
	protoNums = map[uint8]string{}
	f, err := os.Open(ProtocolsFile)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		n, err := strconv.Atoi(fs[1])
		if err != nil || n < 0 || n > 255 {
			continue
		}
		names := append([]string{fs[0]}, fs[2:]...)
		for _, name := range names {
			if _, ok := protoNames[name]; !ok {
				protoNames[name] = uint8(n)
			}
		}
		if _, ok := protoNums[uint8(n)]; !ok {
			protoNums[uint8(n)] = fs[0]
		}
	}
}

// ProtocolByName looks a protocol name up in /etc/protocols.
func ProtocolByName(name string) (uint8, bool) {
	protoOnce.Do(loadProtocols)
	n, ok := protoNames[name]
	return n, ok
}

// ProtocolName returns the /etc/protocols name of a protocol number.
func ProtocolName(n uint8) (string, bool) {
	protoOnce.Do(loadProtocols)
	s, ok := protoNums[n]
	return s, ok
}
