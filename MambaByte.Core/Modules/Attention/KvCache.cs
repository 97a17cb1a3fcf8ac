using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>
/// Keys and values of one attention layer for the positions seen so far, in a buffer that doubles when full,
/// so appending one position costs one copy of that position (not of the whole cache). The buffers live
/// outside every dispose scope and are freed by <see cref="Dispose"/>.
/// </summary>
public sealed class KvCache : IDisposable
{
    private Tensor? keys;   // (b, h, capacity, hd)
    private Tensor? values; // (b, h, capacity, hd)

    /// <summary>Number of positions held.</summary>
    public long Length { get; private set; }

    /// <summary>Positions forgotten by <see cref="KeepLast"/>: the first held position is Start, the next appended one Start + Length.</summary>
    public long Start { get; private set; }

    /// <summary>
    /// Appends <paramref name="newKeys"/> and <paramref name="newValues"/> (b, h, n, hd) and returns views of all
    /// keys and values held (b, h, Length, hd). The views are valid until the next append.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor newKeys, Tensor newValues)
    {
        long added = newKeys.shape[2], needed = Length + added;
        if (keys is null || values is null || needed > keys.shape[2])
        {
            long capacity = Math.Max(needed, Math.Max(16, 2 * (keys?.shape[2] ?? 0)));
            keys = Grow(keys, newKeys, capacity);
            values = Grow(values, newValues, capacity);
        }
        using (no_grad())
        {
            keys.narrow(2, Length, added).copy_(newKeys);
            values.narrow(2, Length, added).copy_(newValues);
        }
        Length = needed;
        return (keys.narrow(2, 0, Length), values.narrow(2, 0, Length));
    }

    /// <summary>Forgets every position (MegaByte's local cache restarts at each patch) but keeps the buffers.</summary>
    public void Clear() => Length = Start = 0;

    /// <summary>
    /// Forgets all but the last <paramref name="count"/> positions (a sliding attention window): they move to the
    /// front of the buffer and <see cref="Start"/> advances, so the cache's memory stays bounded.
    /// </summary>
    public void KeepLast(long count)
    {
        if (count < 0) throw new ArgumentException($"count must be non-negative, got {count}");
        if (keys is null || values is null || Length <= count) return;
        long dropped = Length - count;
        using (no_grad())
        {
            using Tensor keptKeys = keys.narrow(2, dropped, count).clone(), keptValues = values.narrow(2, dropped, count).clone();
            keys.narrow(2, 0, count).copy_(keptKeys);
            values.narrow(2, 0, count).copy_(keptValues);
        }
        Start += dropped;
        Length = count;
    }

    private Tensor Grow(Tensor? old, Tensor like, long capacity)
    {
        Tensor grown = zeros([like.shape[0], like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device)
            .DetachFromDisposeScope();
        if (old is not null)
        {
            using (no_grad()) grown.narrow(2, 0, Length).copy_(old.narrow(2, 0, Length));
            old.Dispose();
        }
        return grown;
    }

    public void Dispose()
    {
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
        Length = Start = 0;
    }
}
