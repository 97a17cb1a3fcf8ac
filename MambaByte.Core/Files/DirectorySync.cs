using System.Runtime.InteropServices;

namespace MambaByte.Core.Files;

/// <summary>
/// fsync of a directory, which .NET does not offer: a rename is durable only once the directory that holds the
/// entry is synced, so after a crash the disk shows either the old name or the new one, never neither.
/// </summary>
public static partial class DirectorySync
{
    const int ReadOnly = 0;

    /// <summary>Flushes <paramref name="directory"/>'s entries to disk (a no-op on Windows, where a rename is made durable by the file system).</summary>
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        int descriptor = open(directory, ReadOnly | DirectoryFlag());
        if (descriptor < 0) throw new IOException($"{directory}: cannot open the directory to sync it ({Marshal.GetLastPInvokeErrorMessage()})");
        try
        {
            // Some file systems cannot sync a directory (EINVAL) and need not: their renames are already ordered.
            if (fsync(descriptor) != 0 && Marshal.GetLastPInvokeError() is int errno && errno != Einval)
                throw new IOException($"{directory}: fsync of the directory failed ({Marshal.GetPInvokeErrorMessage(errno)})");
        }
        finally
        {
            close(descriptor);
        }
    }

    const int Einval = 22;

    /// <summary>O_DIRECTORY, whose value differs between architectures (x86-64 0x10000, ARM 0x4000); plain O_RDONLY also opens a directory.</summary>
    static int DirectoryFlag() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x10000,
        Architecture.Arm64 or Architecture.Arm => 0x4000,
        _ => 0,
    };

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int descriptor);
}
