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

// ConfigFields calls fn with the whitespace-separated fields of each line
// of a system database file (/etc/hosts, /etc/services, ...) that has at
// least two fields after "#" comments are cut, until fn returns true. A
// missing file is no lines.
func ConfigFields(path string, fn func(fields []string) (stop bool)) {
	f, err := os.Open(path)
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
		if fs := strings.Fields(line); len(fs) >= 2 && fn(fs) {
			return
		}
	}
}

func loadServices() {
	servByName = map[servKey]uint16{}
	servByPort = map[portKey]string{}
	ConfigFields(ServicesFile, func(fs []string) bool {
		pp := strings.SplitN(fs[1], "/", 2)
		if len(pp) != 2 {
			return false
		}
		port, err := strconv.Atoi(pp[0])
		if err != nil || port < 0 || port > 65535 {
			return false
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
		return false
	})
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
	ConfigFields(ProtocolsFile, func(fs []string) bool {
		n, err := strconv.Atoi(fs[1])
		if err != nil || n < 0 || n > 255 {
			return false
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
		return false
	})
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
