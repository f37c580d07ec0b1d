// node-probe: a static binary for the stack node's tests, packed as the image
// lifeboat.local/node-probe by hack/node.sh (no registry is reachable, and no Debian package
// ships a static HTTP client and server without a shell to go with them).
//
//	node-probe serve PORT   answer every HTTP request with "node-probe <hostname>"
//	node-probe get URL      GET URL, print the status and body; exit 0 on any HTTP answer.
//	                        https is verified against the pod's service account CA when
//	                        mounted (the API server at the `kubernetes` Service), else the system's.
//	node-probe exit CODE    exit with CODE (a Job that fails or succeeds on purpose)
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

const serviceAccountCA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: node-probe serve PORT | get URL | exit CODE")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "node-probe %s\n", host)
		})
		fmt.Fprintln(os.Stderr, http.ListenAndServe(":"+os.Args[2], nil))
		os.Exit(1)
	case "get":
		client := http.Client{Timeout: 10 * time.Second}
		if pem, err := os.ReadFile(serviceAccountCA); err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		}
		resp, err := client.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Printf("%d %s", resp.StatusCode, body)
	case "exit":
		code, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(code)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
