// etcd at the version k8s.io/kubernetes itself depends on; the server module is a main package
// with replace directives, so `go install` cannot build it and we wrap etcdmain instead.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
