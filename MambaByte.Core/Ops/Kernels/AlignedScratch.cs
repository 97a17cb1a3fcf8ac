using System.Runtime.InteropServices;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// A task's scratch arrays in one native block, each starting on a 64-byte (cache-line) boundary, freed on dispose.
/// Managed arrays start 16 bytes into an 8-byte-aligned object, so a 256-bit load from one crosses a cache line
/// at three positions in eight; the scan kernels load their per-state vectors from these arrays on every step.
/// </summary>
internal readonly unsafe struct AlignedScratch<T> : IDisposable where T : unmanaged
{
    const int Alignment = 64;
    readonly byte* block;
    readonly long[] offsets;

    /// <summary>One array per length, in order, each zero-filled.</summary>
    public AlignedScratch(params long[] lengths)
    {
        offsets = new long[lengths.Length];
        long total = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            offsets[i] = total;
            total += (lengths[i] * sizeof(T) + Alignment - 1) / Alignment * Alignment;
        }
        nuint bytes = (nuint)Math.Max(total, Alignment);                                   // at least one line, even for no arrays
        block = (byte*)NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(block, bytes);
    }

    /// <summary>The start of array <paramref name="index"/>.</summary>
    public T* this[int index] => (T*)(block + offsets[index]);

    public void Dispose() => NativeMemory.AlignedFree(block);
}
