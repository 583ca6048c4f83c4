//go:build !amd64

package vecsearch

func bestKernel() kernel { return kernelGo }

func dotRowsAVX512(q, rows *float32, dims, n int, out *float32) {
	panic("vecsearch: no AVX-512 kernel on this architecture")
}

func dotRowsAVX2(q, rows *float32, dims, n int, out *float32) {
	panic("vecsearch: no AVX2 kernel on this architecture")
}

func sumAVX512(p *float32, n int) float32 { panic("vecsearch: no AVX-512 kernel on this architecture") }

func sumAVX2(p *float32, n int) float32 { panic("vecsearch: no AVX2 kernel on this architecture") }
