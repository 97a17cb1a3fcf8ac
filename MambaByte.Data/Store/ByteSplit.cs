using System.IO.MemoryMappedFiles;

namespace MambaByte.Data;

/// <summary>
/// A read-only, memory-mapped view of one split's contiguous bytes and its document spans. Reads are thread-safe.
/// Splits opened through <see cref="ByteStore"/> are disposed with the store; <see cref="FromFile"/> gives one you dispose.
/// </summary>
public sealed unsafe class ByteSplit : IDisposable
{
    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _bytes;
    readonly long[] _spans; // (start, length) pairs
    bool _disposed;

    internal ByteSplit(string name, string dataPath, long length, long[] spans)
    {
        Name = name;
        Path = dataPath;
        Length = length;
        _spans = spans;
        if (length == 0) return; // a zero-length file cannot be mapped, and there is nothing to read
        _map = MemoryMappedFile.CreateFromFile(dataPath, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _bytes = pointer + _view.PointerOffset;
    }

    public string Name { get; }

    /// <summary>The file that backs this split.</summary>
    public string Path { get; }

    public long Length { get; }

    public int DocumentCount => _spans.Length / 2;

    /// <summary>Where document <paramref name="index"/> lies in the split (a separator byte, if any, follows it and is not counted).</summary>
    public (long Start, long Length) Document(int index)
    {
        if ((uint)index >= (uint)DocumentCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"split '{Name}' has {DocumentCount} documents; {index} is out of range");
        return (_spans[2 * index], _spans[2 * index + 1]);
    }

    /// <summary>Copies <c>destination.Length</c> bytes starting at <paramref name="offset"/>.</summary>
    public void CopyTo(long offset, Span<byte> destination) => Slice(offset, destination.Length).CopyTo(destination);

    /// <summary>The bytes [offset, offset + length) without copying; valid until the split is disposed.</summary>
    public ReadOnlySpan<byte> Slice(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, {offset + length}) are outside split '{Name}' of {Length} bytes");
        return length == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(_bytes + offset, length);
    }

    /// <summary>
    /// Maps any file as a one-document split named after the file (used by <c>mambabyte eval --data file.txt</c>).
    /// Its bytes are taken as they are, valid UTF-8 or not.
    /// </summary>
    public static ByteSplit FromFile(string path)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"{path}: is a directory; expected a file of bytes (or use a prepared store)");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        long length = new FileInfo(path).Length;
        if (length == 0) throw new InvalidDataException($"{path}: the file is empty; there are no bytes to read");
        return new ByteSplit(System.IO.Path.GetFileName(path), System.IO.Path.GetFullPath(path), length, [0, length]);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
