namespace MambaByte.Core.Architectures.SpaceByte;

/// <summary>
/// SpaceByte's patch rule (Slagle 2024, "utf8" patching). A byte is spacelike when it is not an ASCII letter or
/// digit and not a UTF-8 continuation byte (10xxxxxx): spaces, punctuation, control bytes and the lead byte of a
/// multi-byte character are spacelike. A patch starts (the global blocks run) at every spacelike byte that follows
/// a non-spacelike one, and at the first position of the stream.
/// </summary>
public static class SpacelikeBytes
{
    public static bool IsSpacelike(byte value) => !(char.IsAsciiLetterOrDigit((char)value) || (value & 0xC0) == 0x80);

    /// <summary>
    /// Indices into <paramref name="bytes"/> where a patch starts. <paramref name="previousSpacelike"/> says whether
    /// the byte just before the span was spacelike; null means the span starts the stream (index 0 always starts a patch).
    /// </summary>
    public static int[] GlobalPositions(ReadOnlySpan<byte> bytes, bool? previousSpacelike = null)
    {
        var positions = new List<int>();
        bool? before = previousSpacelike;
        for (int t = 0; t < bytes.Length; t++)
        {
            bool spacelike = IsSpacelike(bytes[t]);
            if (before is null || (spacelike && before == false)) positions.Add(t);
            before = spacelike;
        }
        return positions.ToArray();
    }
}
