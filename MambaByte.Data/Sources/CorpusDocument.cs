using System.Security.Cryptography;

namespace MambaByte.Data;

/// <summary>
/// One document of a corpus: a row's bytes held in memory, or a whole text file streamed from disk (never loaded
/// whole, so a single huge file costs one buffer).
/// </summary>
public sealed class CorpusDocument
{
    readonly byte[]? _bytes;
    readonly string? _filePath;

    CorpusDocument(string origin, string? splitHint, byte[]? bytes, string? filePath, long length)
    {
        Origin = origin;
        SplitHint = splitHint;
        _bytes = bytes;
        _filePath = filePath;
        Length = length;
    }

    /// <summary>Where the document came from, for messages: a path, plus a row or line where it matters.</summary>
    public string Origin { get; }

    public string? SplitHint { get; }

    public long Length { get; }

    public static CorpusDocument FromBytes(string origin, string? splitHint, byte[] bytes) => new(origin, splitHint, bytes, null, bytes.Length);

    public static CorpusDocument FromFile(SourceFile file) => new(file.FullPath, file.SplitHint, null, file.FullPath, file.Length);

    /// <summary>SHA-256 of the seed (8 bytes, little-endian) followed by the document's bytes.</summary>
    public byte[] SeededHash(ulong seed, byte[] buffer, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> seedBytes = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(seedBytes, seed);
        hash.AppendData(seedBytes);
        Stream(buffer, chunk => hash.AppendData(chunk), cancellationToken);
        return hash.GetHashAndReset();
    }

    /// <summary>Calls <paramref name="consume"/> with the document's bytes, in order, one buffer at a time.</summary>
    public void Stream(byte[] buffer, Action<ReadOnlySpan<byte>> consume, CancellationToken cancellationToken)
    {
        if (_bytes is not null)
        {
            consume(_bytes);
            return;
        }
        using var input = new FileStream(_filePath!, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        long total = 0;
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            consume(buffer.AsSpan(0, read));
            total += read;
        }
        if (total != Length) throw new IOException($"{_filePath}: changed while being read ({Length} bytes expected, {total} read)");
    }
}
