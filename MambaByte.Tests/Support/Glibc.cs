namespace MambaByte.Tests.Support;

/// <summary>Whether this machine's C library is glibc (every Debian/Ubuntu/RHEL machine), whose mallopt settings <c>TorchRuntime</c> uses.</summary>
public static class Glibc
{
    public static bool Present { get; } = OperatingSystem.IsLinux()
        && new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6" }.Any(File.Exists);
}
