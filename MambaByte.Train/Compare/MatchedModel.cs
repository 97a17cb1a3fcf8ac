using System.Text.Json.Nodes;

namespace MambaByte.Train.Compare;

/// <summary>
/// One architecture's model in a comparison: its config.json, the two quantities matching can equalise
/// (trainable parameters and training FLOPs per byte at the comparison's context), and a one-line shape summary.
/// </summary>
public sealed record MatchedModel(string Architecture, JsonObject Config, long Parameters, double TrainingFlopsPerByte, string Shape)
{
    /// <summary>This model's matched quantity (parameters or FLOPs/byte) divided by the reference's.</summary>
    public double RatioTo(MatchedModel reference, string match) =>
        match == ArchitectureMatcher.MatchParams
            ? (double)Parameters / reference.Parameters
            : TrainingFlopsPerByte / reference.TrainingFlopsPerByte;
}
