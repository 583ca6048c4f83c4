package vecsearch

// kernel selects the dot-product code: portable Go, or an assembly kernel when the CPU
// has the instructions (checked at run time, see kernel_amd64.go).
type kernel int

const (
	kernelGo kernel = iota
	kernelAVX2
	kernelAVX512
)

func (k kernel) String() string {
	switch k {
	case kernelAVX2:
		return "avx2"
	case kernelAVX512:
		return "avx512"
	default:
		return "go"
	}
}

// dotRows sets scores[i] to the dot product of q and row i of rows (len(q) floats
// each). The assembly kernels need a dimension that is a multiple of their width;
// other dimensions use Go.
func (k kernel) dotRows(q, rows, scores []float32) {
	n := len(scores)
	if n == 0 {
		return
	}
	_ = rows[n*len(q)-1]
	switch {
	case k == kernelAVX512 && len(q)%16 == 0:
		dotRowsAVX512(&q[0], &rows[0], len(q), n, &scores[0])
	case k >= kernelAVX2 && len(q)%8 == 0:
		dotRowsAVX2(&q[0], &rows[0], len(q), n, &scores[0])
	default:
		dotRowsGo(q, rows, scores)
	}
}

// sum adds up v; the read probe of the benchmarks uses it to time reading vectors with
// the same instructions and threads as a search, minus the multiplications.
func (k kernel) sum(v []float32) float32 {
	switch {
	case k == kernelAVX512 && len(v)%64 == 0 && len(v) > 0:
		return sumAVX512(&v[0], len(v))
	case k >= kernelAVX2 && len(v)%32 == 0 && len(v) > 0:
		return sumAVX2(&v[0], len(v))
	default:
		return sumGo(v)
	}
}

func dotRowsGo(q, rows, scores []float32) {
	d := len(q)
	for i := range scores {
		scores[i] = dotGo(q, rows[i*d:(i+1)*d:(i+1)*d])
	}
}

// dotGo is an 8-way unrolled dot product: eight independent sums keep the adder busy
// instead of waiting on one long dependency chain.
func dotGo(q, v []float32) float32 {
	v = v[:len(q)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(q); i += 8 {
		a := q[i : i+8 : i+8]
		b := v[i : i+8 : i+8]
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		s4 += a[4] * b[4]
		s5 += a[5] * b[5]
		s6 += a[6] * b[6]
		s7 += a[7] * b[7]
	}
	for ; i < len(q); i++ {
		s0 += q[i] * v[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

func sumGo(v []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(v); i += 8 {
		b := v[i : i+8 : i+8]
		s0 += b[0]
		s1 += b[1]
		s2 += b[2]
		s3 += b[3]
		s4 += b[4]
		s5 += b[5]
		s6 += b[6]
		s7 += b[7]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
