namespace MambaByte.Train.Training;

/// <summary>Plain log lines (CI, tests, redirected output): every status line becomes a log line.</summary>
public sealed class PlainProgress(TextWriter output) : ITrainingProgress
{
    public void Status(string line) => output.WriteLine(line);

    public void Event(string line) => output.WriteLine(line);
}
