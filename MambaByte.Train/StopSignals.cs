using System.Runtime.InteropServices;

namespace MambaByte.Train;

/// <summary>
/// SIGINT and SIGTERM, while this lives, do not kill the process: they cancel <see cref="Token"/> so the run
/// saves a checkpoint at the next step boundary and exits 0.
/// </summary>
public sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource stop;
    readonly TextWriter error;
    readonly PosixSignalRegistration sigint, sigterm;

    public StopSignals(CancellationToken outer, TextWriter error)
    {
        stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        this.error = error;
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => stop.Token;

    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        error.WriteLine($"mambabyte: {context.Signal}: saving a checkpoint at the next step boundary");
        try
        {
            stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The runtime had already taken this registration for the signal when Dispose ran: nothing is left to stop.
        }
    }

    public void Dispose()
    {
        sigterm.Dispose();
        sigint.Dispose();
        stop.Dispose();
    }
}
