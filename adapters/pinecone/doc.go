// Package pinecone is tenantry's client of Pinecone's documented REST APIs: the data
// plane of a tenant's own serverless index (ports.VectorIndex) and Pinecone Inference
// (ports.Embedder).
//
// It speaks plain HTTPS + JSON rather than using the official Go SDK: go-pinecone/v5
// sends vector operations over gRPC and calls log.Fatalf when it cannot create a
// connection, so one tenant's bad index host could stop the whole process.
//
// Every request pins X-Pinecone-Api-Version to APIVersion. A client is built for one
// tenant (its host, key and namespace) and refuses calls naming any other tenant.
// Failures come back as *domain.Error: 429 is KindRateLimited, 5xx, timeouts and dial
// errors are KindUnavailable, a rejected key is KindUnavailable with code
// "vendor_key_rejected", and 400 is KindInvalid. The API key never appears in an error.
//
// It imports domain, ports and the standard library only; never another adapter.
package pinecone
