package prometheus

import (
	"net"
	"net/url"
)

// remoteHost returns host:port and scheme of a remote model's URL, with the
// scheme's default port filled in.
func remoteHost(raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, "http"
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return host, u.Scheme
}
