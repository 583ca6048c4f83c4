// Command tenantry is a multi-tenant RAG chat backend. Everything lives in bootstrap;
// main only hands over the arguments and the embedded schema.
package main

import (
	_ "embed"
	"os"

	"github.com/tenantry/tenantry/bootstrap"
)

//go:embed schema.hcl
var schemaHCL []byte

func main() {
	os.Exit(bootstrap.Main(os.Args[1:], schemaHCL))
}
