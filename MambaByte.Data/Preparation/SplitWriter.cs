using System.Buffers.Binary;
using System.Security.Cryptography;

namespace MambaByte.Data;

/// <summary>Appends documents to one split's <c>.bin</c> and <c>.idx</c>, hashing the bytes as they go.</summary>
internal sealed class SplitWriter : IDisposable
{
    readonly FileStream _data;
    readonly FileStream _index;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly byte[] _entry = new byte[StoreLayout.IndexEntryBytes];

    public SplitWriter(string directory, string name)
    {
        Name = name;
        _data = new FileStream(StoreLayout.DataFile(directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _index = new FileStream(StoreLayout.IndexFile(directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public string Name { get; }

    public long Bytes { get; private set; }

    public int Documents { get; private set; }

    public void Write(CorpusDocument document, int? separator, byte[] buffer, CancellationToken cancellationToken)
    {
        long start = Bytes;
        long written = 0;
        document.Stream(buffer, chunk =>
        {
            _data.Write(chunk);
            _hash.AppendData(chunk);
            written += chunk.Length;
        }, cancellationToken);
        if (written != document.Length) throw new IOException($"{document.Origin}: read {written} bytes, expected {document.Length}");
        Bytes += written;
        if (separator is { } value)
        {
            ReadOnlySpan<byte> one = [(byte)value];
            _data.Write(one);
            _hash.AppendData(one);
            Bytes += 1;
        }
        BinaryPrimitives.WriteInt64LittleEndian(_entry.AsSpan(0, 8), start);
        BinaryPrimitives.WriteInt64LittleEndian(_entry.AsSpan(8, 8), written);
        _index.Write(_entry);
        Documents = checked(Documents + 1);
    }

    public StoreSplitInfo Finish()
    {
        _data.Flush(flushToDisk: true);
        _index.Flush(flushToDisk: true);
        return new StoreSplitInfo(Name, Bytes, Documents, Convert.ToHexStringLower(_hash.GetHashAndReset()));
    }

    public void Dispose()
    {
        _data.Dispose();
        _index.Dispose();
        _hash.Dispose();
    }
}
