using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

public static partial class SelectiveScan
{
    /// <summary>Chunk length T of <see cref="Parallel"/>: the in-chunk scan takes log₂T steps.</summary>
    public const int ParallelChunkLength = 64;

    /// <summary>
    /// A chunked parallel scan in tensor ops only (device-agnostic; the CUDA path), differentiable by autograd and
    /// equal to <see cref="Reference"/>. The recurrence h_t = a_t·h_{t−1} + x_t with a_t = exp(Δ_t A) ≤ 1 is split into
    /// chunks of T = <see cref="ParallelChunkLength"/> steps (or fewer for short inputs). Within every chunk at once, a
    /// Hillis–Steele scan over (a, x) pairs runs log₂T steps of (a, x)ₜ ← (aₜ·aₜ₋ₛ, aₜ·xₜ₋ₛ + xₜ); then the chunk
    /// totals carry the state across chunk boundaries (⌈l/T⌉ small steps on (b, d, n)). Only products of decays ≤ 1
    /// are ever formed, never exp of a positive cumulative sum, so it is stable for any length.
    ///
    /// Memory (autograd-saved, compute dtype, P = b·d·l'·n with l' = l rounded up to T): the exp(ΔA) and Δ·B·u
    /// tensors (2P), and per Hillis–Steele step the shifted (a, x) pair and the products, about 4P each, so
    /// ≈ (2 + 4·log₂T)·P elements (≈ 26P at T = 64) plus O(b·d·n·l/T) for the carries; its time is O(P·log T).
    /// </summary>
    public static ScanResult Parallel(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? deltaBias = null, bool deltaSoftplus = false,
        Tensor? initialState = null, bool returnLastState = false)
    {
        CheckShapes(u, delta, A, B, C, D, z, deltaBias, initialState);
        ScalarType inputType = u.dtype;
        ScalarType compute = ComputeType(inputType);
        using var scope = NewDisposeScope();


        long batch = u.shape[0], channels = u.shape[1], length = u.shape[2], states = A.shape[1];
        Tensor h0 = initialState?.to_type(compute) ?? zeros(batch, channels, states, dtype: compute, device: u.device);
        if (length == 0)
        {
            Tensor empty = zeros_like(u);
            return new ScanResult(empty.MoveToOuterDisposeScope(), returnLastState ? h0.MoveToOuterDisposeScope() : null);
        }

        long chunk = Math.Min(ParallelChunkLength, 1L << (int)Math.Ceiling(Math.Log2(length)));
        long chunks = (length + chunk - 1) / chunk, padded = chunks * chunk, pad = padded - length;
        var (uc, decay, input, Cc) = Discretize(u, delta, A, B, C, deltaBias, deltaSoftplus, compute);   // (b, d, l, n) each
        if (pad > 0)
        {
            // Padding steps keep the state unchanged (a = 1, x = 0), so the last chunk's total is the last state.
            decay = nn.functional.pad(decay, [0, 0, 0, pad], value: 1.0);                         // (b, d, l', n)
            input = nn.functional.pad(input, [0, 0, 0, pad]);                                     // (b, d, l', n)
        }
        Tensor a = decay.view(batch, channels, chunks, chunk, states);                           // (b, d, c, T, n)
        Tensor x = input.view(batch, channels, chunks, chunk, states);                           // (b, d, c, T, n)
        for (long shift = 1; shift < chunk; shift *= 2)
        {
            Tensor aBefore = nn.functional.pad(a[.., .., .., ..(int)(chunk - shift)], [0, 0, shift, 0], value: 1.0);
            Tensor xBefore = nn.functional.pad(x[.., .., .., ..(int)(chunk - shift)], [0, 0, shift, 0]);
            x = a * xBefore + x;
            a = a * aBefore;
        }
        // a[..., i, :] is now the product of decays from the chunk start to step i, x the state reached from zero.
        Tensor chunkDecay = a.select(3, chunk - 1), chunkInput = x.select(3, chunk - 1);          // (b, d, c, n)
        var starts = new Tensor[chunks];
        Tensor h = h0;
        for (long c = 0; c < chunks; c++)
        {
            starts[c] = h;
            h = chunkDecay.select(2, c) * h + chunkInput.select(2, c);                            // (b, d, n)
        }
        Tensor start = stack(starts, dim: 2).unsqueeze(3);                                        // (b, d, c, 1, n)
        Tensor hs = (a * start + x).view(batch, channels, padded, states);                       // (b, d, l', n)
        if (pad > 0) hs = hs[.., .., ..(int)length];                                              // (b, d, l, n)
        Tensor y = Readout((hs * Cc.transpose(1, 2).unsqueeze(1)).sum(-1), uc, D, z, compute);    // (b, d, l)

        Tensor output = y.to_type(inputType).MoveToOuterDisposeScope();
        Tensor? last = returnLastState ? h.MoveToOuterDisposeScope() : null;
        return new ScanResult(output, last);
    }
}
