namespace MambaByte.Core.Evaluation;

/// <summary>
/// One forward pass of a windowed evaluation over a document: inputs are bytes [<see cref="Begin"/>, <see cref="End"/>),
/// targets bytes [Begin + 1, End + 1), and only targets from <see cref="FirstScoredTarget"/> on are scored
/// (the earlier ones were scored by a previous window and serve here only as context).
/// </summary>
public readonly record struct EvaluationWindow(int Begin, int End, int FirstScoredTarget)
{
    public int Length => End - Begin;

    /// <summary>Index inside the window of the first scored position.</summary>
    public int FirstScoredOffset => FirstScoredTarget - Begin - 1;
}
