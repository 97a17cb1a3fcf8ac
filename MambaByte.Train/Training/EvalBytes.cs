using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>Reads what an evaluation scores: a whole split (or its first bytes) as one byte stream, as training sees it.</summary>
public static class EvalBytes
{
    public static byte[] Read(ByteSplit split, long maxBytes = 0)
    {
        long length = maxBytes > 0 ? Math.Min(maxBytes, split.Length) : split.Length;
        if (length > Array.MaxLength) throw new ArgumentException($"split '{split.Name}' has {split.Length:N0} bytes; score at most {Array.MaxLength:N0} per call (--max-bytes)");
        var bytes = new byte[length];
        split.CopyTo(0, bytes);
        return bytes;
    }
}
