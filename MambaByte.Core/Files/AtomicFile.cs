namespace MambaByte.Core.Files;

/// <summary>
/// Writes a file under a temporary name beside it, fsyncs it, renames it into place and syncs the directory, so a
/// reader (or a crash) sees the old file or the new one, never half of one. Every file this project writes for
/// keeps (checkpoints, reports, metrics, exports) goes through here.
/// </summary>
public static class AtomicFile
{
    /// <summary>What every temporary name contains (cleanup and tests look for it).</summary>
    public const string TemporaryMarker = ".tmp-";

    /// <summary>
    /// Lets <paramref name="writeTemporary"/> write the file at the temporary path it is given (same directory, same
    /// extension, so writers that pick a format by extension work), then publishes it as <paramref name="path"/>.
    /// With <paramref name="overwrite"/> false an existing file is an error. On any failure the temporary is removed.
    /// </summary>
    public static void Publish(string path, Action<string> writeTemporary, bool overwrite = true)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        string temporary = Path.Combine(directory,
            "." + Path.GetFileNameWithoutExtension(full) + TemporaryMarker + Guid.NewGuid().ToString("N")[..8] + Path.GetExtension(full));
        try
        {
            writeTemporary(temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                stream.Flush(flushToDisk: true);
            File.Move(temporary, full, overwrite);
            DirectorySync.Flush(directory);
        }
        catch
        {
            try { File.Delete(temporary); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary><see cref="Publish"/> through a stream (1 MiB buffer).</summary>
    public static void Write(string path, Action<Stream> write, bool overwrite = true) =>
        Publish(path, temporary =>
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            write(stream);
        }, overwrite);

    /// <summary><see cref="Publish"/> through a UTF-8 text writer.</summary>
    public static void WriteText(string path, Action<TextWriter> write, bool overwrite = true) =>
        Publish(path, temporary =>
        {
            using var writer = new StreamWriter(temporary);
            write(writer);
        }, overwrite);

    /// <summary><see cref="Publish"/> of a whole text.</summary>
    public static void WriteAllText(string path, string text, bool overwrite = true) =>
        Publish(path, temporary => File.WriteAllText(temporary, text), overwrite);
}
