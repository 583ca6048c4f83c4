package vecsearch

import "golang.org/x/sys/cpu"

// bestKernel is the fastest kernel this CPU and OS support (x/sys/cpu also checks that
// the OS saves the wider registers). The AVX-512 kernel falls back to the AVX2 one for
// dimensions that are multiples of 8 but not 16, hence it needs both.
func bestKernel() kernel {
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA
	switch {
	case avx2 && cpu.X86.HasAVX512F:
		return kernelAVX512
	case avx2:
		return kernelAVX2
	default:
		return kernelGo
	}
}

// dotRowsAVX512 writes n dot products of q with consecutive rows of dims floats to out;
// dims is a positive multiple of 16.
//
//go:noescape
func dotRowsAVX512(q, rows *float32, dims, n int, out *float32)

// dotRowsAVX2 is dotRowsAVX512 with AVX2 and FMA; dims is a positive multiple of 8.
//
//go:noescape
func dotRowsAVX2(q, rows *float32, dims, n int, out *float32)

// sumAVX512 adds up n floats; n is a positive multiple of 64.
//
//go:noescape
func sumAVX512(p *float32, n int) float32

// sumAVX2 adds up n floats; n is a positive multiple of 32.
//
//go:noescape
func sumAVX2(p *float32, n int) float32
