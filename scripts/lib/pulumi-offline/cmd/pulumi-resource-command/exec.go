package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func runLocal(ctx context.Context, inputs resource.PropertyMap, cmd string, env map[string]string, stdin string,
	stdout, stderr io.Writer,
) error {
	interpreter := []string{"/bin/sh", "-c"}
	if v := plain(inputs["interpreter"]); v.IsArray() && len(v.ArrayValue()) > 0 {
		interpreter = interpreter[:0]
		for _, e := range v.ArrayValue() {
			if e.IsString() {
				interpreter = append(interpreter, e.StringValue())
			}
		}
	}
	args := append(append([]string{}, interpreter[1:]...), cmd)
	c := exec.CommandContext(ctx, interpreter[0], args...)
	c.Dir = str(inputs, "dir")
	c.Env = os.Environ()
	for _, k := range sortedKeys(env) {
		c.Env = append(c.Env, k+"="+env[k])
	}
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	c.Stdout, c.Stderr = stdout, stderr
	return c.Run()
}

func num(m resource.PropertyMap, key string, def int) int {
	v := plain(m[resource.PropertyKey(key)])
	if v.IsNumber() {
		return int(v.NumberValue())
	}
	return def
}

func sshConfig(conn resource.PropertyMap) (*ssh.ClientConfig, string, error) {
	host := str(conn, "host")
	if host == "" {
		return nil, "", fmt.Errorf("connection.host is required")
	}
	user := str(conn, "user")
	if user == "" {
		user = "root"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(num(conn, "port", 22)))
	var auths []ssh.AuthMethod
	if key := str(conn, "privateKey"); key != "" {
		var signer ssh.Signer
		var err error
		if pass := str(conn, "privateKeyPassword"); pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, "", fmt.Errorf("connection.privateKey: %w", err)
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if pw := str(conn, "password"); pw != "" {
		auths = append(auths, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := str(conn, "agentSocketPath")
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			auths = append(auths, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	hostKeyCallback := ssh.InsecureIgnoreHostKey() //nolint:gosec // as the real provider: no hostKey, no check
	if hk := str(conn, "hostKey"); hk != "" {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk))
		if err != nil {
			return nil, "", fmt.Errorf("connection.hostKey: %w", err)
		}
		hostKeyCallback = ssh.FixedHostKey(pk)
	}
	return &ssh.ClientConfig{
		User:            user,
		Auth:            auths,
		HostKeyCallback: hostKeyCallback,
		Timeout:         time.Duration(num(conn, "perDialTimeout", 15)) * time.Second,
	}, addr, nil
}

// dial connects, retrying up to dialErrorLimit times (10 by default; -1: no limit) one second apart, as
// machines that are still booting refuse connections for a while.
func dial(ctx context.Context, conn resource.PropertyMap) (*ssh.Client, error) {
	var via *ssh.Client
	if p := plain(conn["proxy"]); p.IsObject() {
		c, err := dial(ctx, p.ObjectValue())
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		via = c
	}
	cfg, addr, err := sshConfig(conn)
	if err != nil {
		return nil, err
	}
	limit := num(conn, "dialErrorLimit", 10)
	for attempt := 1; ; attempt++ {
		var client *ssh.Client
		if via != nil {
			var nc net.Conn
			if nc, err = via.Dial("tcp", addr); err == nil {
				var c ssh.Conn
				var chans <-chan ssh.NewChannel
				var reqs <-chan *ssh.Request
				if c, chans, reqs, err = ssh.NewClientConn(nc, addr, cfg); err == nil {
					client = ssh.NewClient(c, chans, reqs)
				}
			}
		} else {
			client, err = ssh.Dial("tcp", addr, cfg)
		}
		if err == nil {
			return client, nil
		}
		if limit >= 0 && attempt >= limit {
			return nil, fmt.Errorf("dial %s (%d attempts): %w", addr, attempt, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func runRemote(ctx context.Context, connection resource.PropertyValue, cmd string, env map[string]string, stdin string,
	stdout, stderr io.Writer,
) error {
	if !connection.IsObject() {
		return fmt.Errorf("connection is required")
	}
	client, err := dial(ctx, connection.ObjectValue())
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	// As the real provider: environment goes through SSH setenv, which the server may refuse (AcceptEnv).
	for _, k := range sortedKeys(env) {
		_ = session.Setenv(k, env[k])
	}
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	session.Stdout, session.Stderr = stdout, stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		return ctx.Err()
	}
}
