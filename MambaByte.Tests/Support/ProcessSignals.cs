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
        Send(Environment.ProcessId, signal);
        var clock = Stopwatch.StartNew();
        while (!stopped.IsCancellationRequested)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"signal {signal} was not handled within 30 s");
            Thread.Sleep(1);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
