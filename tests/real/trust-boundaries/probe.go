// probe: what a CI job tries, in a job-shaped container (static, standard library only, so it runs in an
// image holding nothing else). Each subcommand exits 0 when the attempt SUCCEEDED (the secret or API was
// reached) and prints what it got; non-zero when it was refused, with the reason.
//
//	probe http URL                 GET URL (the metadata service's user-data)
//	probe tcp HOST:PORT            opens a TCP connection (a Docker API port)
//	probe docker-api HOST:PORT     GET /version over plain HTTP (an unauthenticated Docker API)
//	probe swarm-api HOST:PORT      a TLS handshake without a client certificate (the Swarm control plane)
//	probe unix PATH                GET /version over a Unix socket (a mounted Docker socket)
//	probe grep NEEDLE DIR...       looks for NEEDLE in every readable file under DIR (a secret in the filesystem)
//	probe sleep -                  runs until stopped (the stand-in task of a platform service)
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: probe http|tcp|docker-api|swarm-api|unix|grep ARG...")
		os.Exit(2)
	}
	arg := os.Args[2]
	client := &http.Client{Timeout: 4 * time.Second}
	var err error
	switch os.Args[1] {
	case "http":
		err = get(client, arg)
	case "docker-api":
		err = get(client, "http://"+arg+"/version")
	case "unix":
		c := &http.Client{Timeout: 4 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", arg)
		}}}
		err = get(c, "http://docker/version")
	case "tcp":
		var c net.Conn
		if c, err = net.DialTimeout("tcp", arg, 4*time.Second); err == nil {
			c.Close()
			fmt.Println("connected to", arg)
		}
	case "swarm-api":
		var c *tls.Conn
		d := &net.Dialer{Timeout: 4 * time.Second}
		if c, err = tls.DialWithDialer(d, "tcp", arg, &tls.Config{InsecureSkipVerify: true}); err == nil {
			// The server asks for a client certificate; without one the first read fails.
			c.SetDeadline(time.Now().Add(4 * time.Second))
			_, err = c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
			if err == nil {
				buf := make([]byte, 64)
				_, err = c.Read(buf)
			}
			c.Close()
			if err == nil {
				fmt.Println("the Swarm API answered without a client certificate")
			}
		}
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	case "grep":
		err = grep([]byte(arg), os.Args[3:])
	default:
		fmt.Fprintln(os.Stderr, "unknown probe", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
}

func get(c *http.Client, url string) error {
	r, err := c.Get(url)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if r.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", r.StatusCode)
	}
	fmt.Printf("got %d bytes: %s\n", len(b), bytes.TrimSpace(b))
	return nil
}

func grep(needle []byte, dirs []string) error {
	found := ""
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return nil
			}
			if e.IsDir() && (p == "/proc" || p == "/sys") {
				return filepath.SkipDir
			}
			if !e.Type().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, needle) {
				found = p
			}
			return nil
		})
	}
	if found == "" {
		return fmt.Errorf("not found under %v", dirs)
	}
	fmt.Println("found in", found)
	return nil
}
