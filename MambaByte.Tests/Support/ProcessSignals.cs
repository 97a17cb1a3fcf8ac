using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MambaByte.Tests.Support;

/// <summary>
/// Real POSIX signals sent with libc's <c>kill(2)</c> (no external <c>kill</c> command: minimal images have no procps).
/// </summary>
public static partial class ProcessSignals
{
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    public static int Number(string name) => name switch
    {
        "SIGINT" => SIGINT,
        "SIGTERM" => SIGTERM,
        _ => throw new ArgumentException($"unknown signal {name}"),
    };

    public static void Send(int processId, int signal)
    {
        if (kill(processId, signal) != 0)
            throw new InvalidOperationException($"kill({processId}, {signal}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to this process and waits until the handler (which .NET runs on its own
    /// thread) has cancelled <paramref name="stopped"/>, so the signal has landed in the phase the caller is in.
    /// </summary>
    public static void SendToSelfAndWait(int signal, CancellationToken stopped)
    {
        RequireHandled(signal);
        Send(Environment.ProcessId, signal);
        var clock = Stopwatch.StartNew();
        while (!stopped.IsCancellationRequested)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"signal {signal} was not handled within 30 s");
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// Fails with the reason when this process (and so any child it starts) ignores <paramref name="signal"/>: a test
    /// host started in the background by a non-interactive shell (nohup, or <c>cmd &amp;</c> without job control) has
    /// SIGINT and SIGQUIT set to ignored, .NET keeps an inherited ignore, and a signal test would only time out.
    /// </summary>
    public static void RequireHandled(int signal)
    {
        if (IgnoredAtStart(signal))
            throw new InvalidOperationException(
                $"this test process ignores signal {signal} (SigIgn in /proc/self/status), as a process started in the background " +
                "by a non-interactive shell does; run the tests in the foreground or under 'set -m'");
    }

    /// <summary>Whether the signal is in this process's ignored set (Linux: the SigIgn mask of /proc/self/status).</summary>
    public static bool IgnoredAtStart(int signal)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return false;
        string? line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) >> (signal - 1) & 1) == 1;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
