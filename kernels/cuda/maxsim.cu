// MaxSim / FLIPR over many documents' token vectors: one thread block per document.
// Compiled at run time with NVRTC (seine-kernels `cuda` feature); no CUDA headers are
// needed (f16 is converted with inline PTX).
//
//   q        [lq × dim] f32, the query's token vectors
//   docs     [total_tokens × dim] f32 or f16 (as raw 16-bit), documents back to back
//   offsets  [n_docs + 1] first token row of each document
//   flipr_k  0: MaxSim (sum of the per-query-token maxima); k > 0: sum of the k largest
//   scores   [n_docs]
//
// Each thread walks document tokens j = tid, tid + blockDim, ... and keeps, per query
// token, the running maximum of q_i · d_j in registers (lq <= SEINE_MAX_LQ). The maxima
// are then reduced across the block (warp shuffles, then shared memory) and thread 0
// applies the reduction. A document without tokens scores 0.

#define SEINE_MAX_LQ 64
#define SEINE_NEG_INF (-3.402823466e38f)

__device__ __forceinline__ float seine_load(const float* p) { return __ldg(p); }

__device__ __forceinline__ float seine_load(const unsigned short* p) {
    unsigned short h = __ldg(p);
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// The block's per-query-token maxima (each thread's `best`) reduced across the block
// (warp shuffles, then shared memory); thread 0 applies MaxSim or FLIPR and writes the
// document's score. A document without tokens scores 0.
__device__ void seine_finish(float* best, int lq, long long start, long long end, int flipr_k,
                             float* red, float* __restrict__ scores) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int i = 0; i < SEINE_MAX_LQ; ++i) {
        if (i >= lq) break;
        float v = best[i];
        for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
        if (lane == 0) red[warp * lq + i] = v;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float m[SEINE_MAX_LQ];
        for (int i = 0; i < lq; ++i) {
            float v = red[i];
            for (int w = 1; w < warps; ++w) v = fmaxf(v, red[w * lq + i]);
            m[i] = (end > start) ? v : 0.0f;
        }
        float s = 0.0f;
        if (flipr_k <= 0 || flipr_k >= lq) {
            for (int i = 0; i < lq; ++i) s += m[i];
        } else {
            // Sum of the k largest: k passes of selection (lq <= 64).
            for (int t = 0; t < flipr_k; ++t) {
                int arg = 0;
                for (int i = 1; i < lq; ++i) if (m[i] > m[arg]) arg = i;
                s += m[arg];
                m[arg] = SEINE_NEG_INF;
            }
        }
        scores[blockIdx.x] = s;
    }
}

template <typename T>
__device__ void seine_maxsim(const float* __restrict__ q, int lq, int dim,
                             const T* __restrict__ docs, const long long* __restrict__ offsets,
                             int flipr_k, float* __restrict__ scores) {
    extern __shared__ float red[];  // [warps × lq]
    const int doc = blockIdx.x;
    const long long start = offsets[doc], end = offsets[doc + 1];

    float best[SEINE_MAX_LQ];
#pragma unroll
    for (int i = 0; i < SEINE_MAX_LQ; ++i) best[i] = SEINE_NEG_INF;

    for (long long j = start + threadIdx.x; j < end; j += blockDim.x) {
        const T* d = docs + j * dim;
        float acc[SEINE_MAX_LQ];
#pragma unroll
        for (int i = 0; i < SEINE_MAX_LQ; ++i) acc[i] = 0.0f;
        for (int k = 0; k < dim; ++k) {
            const float x = seine_load(d + k);
#pragma unroll
            for (int i = 0; i < SEINE_MAX_LQ; ++i)
                if (i < lq) acc[i] = fmaf(__ldg(q + i * dim + k), x, acc[i]);
        }
#pragma unroll
        for (int i = 0; i < SEINE_MAX_LQ; ++i) best[i] = fmaxf(best[i], acc[i]);
    }

    seine_finish(best, lq, start, end, flipr_k, red, scores);
}

extern "C" __global__ void seine_maxsim_f32(const float* q, int lq, int dim, const float* docs,
                                            const long long* offsets, int flipr_k, float* scores) {
    seine_maxsim<float>(q, lq, dim, docs, offsets, flipr_k, scores);
}

extern "C" __global__ void seine_maxsim_f16(const float* q, int lq, int dim,
                                            const unsigned short* docs, const long long* offsets,
                                            int flipr_k, float* scores) {
    seine_maxsim<unsigned short>(q, lq, dim, docs, offsets, flipr_k, scores);
}

// The same over residual-compressed token vectors (seine-kernels `residual::Codec`):
// token j is centroid cids[j] plus, per dimension k, the bucket value of its `bits`-bit
// code (packed little-end first, `row_bytes` per token), normalized when `normalize`
// is set. Each thread decodes its tokens on the fly; the normalization is applied to
// the dot products (q · (c + r) / ‖c + r‖), so the decoded vector never exists.
extern "C" __global__ void seine_maxsim_residual(
    const float* __restrict__ q, int lq, int dim, const float* __restrict__ centroids,
    const unsigned int* __restrict__ cids, const unsigned char* __restrict__ codes,
    int row_bytes, int bits, const float* __restrict__ weights, int normalize,
    const long long* __restrict__ offsets, int flipr_k, float* __restrict__ scores) {
    extern __shared__ float red[];  // [warps × lq]
    const int doc = blockIdx.x;
    const long long start = offsets[doc], end = offsets[doc + 1];
    const unsigned int mask = (1u << bits) - 1u;

    float best[SEINE_MAX_LQ];
#pragma unroll
    for (int i = 0; i < SEINE_MAX_LQ; ++i) best[i] = SEINE_NEG_INF;

    for (long long j = start + threadIdx.x; j < end; j += blockDim.x) {
        const float* c = centroids + (long long)cids[j] * dim;
        const unsigned char* code = codes + j * row_bytes;
        float acc[SEINE_MAX_LQ];
#pragma unroll
        for (int i = 0; i < SEINE_MAX_LQ; ++i) acc[i] = 0.0f;
        float norm = 0.0f;
        for (int k = 0; k < dim; ++k) {
            const int bit = k * bits;
            const unsigned int b = (__ldg(code + (bit >> 3)) >> (bit & 7)) & mask;
            const float x = __ldg(c + k) + __ldg(weights + b);
            norm = fmaf(x, x, norm);
#pragma unroll
            for (int i = 0; i < SEINE_MAX_LQ; ++i)
                if (i < lq) acc[i] = fmaf(__ldg(q + i * dim + k), x, acc[i]);
        }
        const float inv = (normalize && norm > 0.0f) ? rsqrtf(norm) : 1.0f;
#pragma unroll
        for (int i = 0; i < SEINE_MAX_LQ; ++i) best[i] = fmaxf(best[i], acc[i] * inv);
    }

    seine_finish(best, lq, start, end, flipr_k, red, scores);
}
