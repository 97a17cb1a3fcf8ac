using MambaByte.Core.Architectures;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;

namespace MambaByte.Train.Compare;

/// <summary>
/// Bits-per-byte against evaluation context: each trained model scores the same test bytes with windows of each
/// <c>--contexts</c> length (<see cref="BitsPerByteEvaluator.Windowed"/>, stride = window, every byte once, as the
/// main test score at the training context). Mamba's recurrent state runs a window of any length; the Transformer's
/// rotary positions are relative angles with no table to run out of, so it runs longer windows too (positions past
/// its training context were never trained); MegaByte's learned patch positions end at its max_context, and a longer
/// window is reported as unavailable with that reason, never as a number.
/// </summary>
public static class ContextSweep
{
    public static IReadOnlyList<ContextPoint> Measure(
        ByteLanguageModel model, byte[] testBytes, IReadOnlyList<int> contexts, int trainingContext, int batchSize,
        CancellationToken cancellationToken = default)
    {
        var points = new List<ContextPoint>();
        foreach (int context in contexts)
        {
            if (Unavailable(model, context) is { } reason)
            {
                points.Add(new ContextPoint(context, null, 0, reason));
                continue;
            }
            // Longer windows go in smaller batches (about the bytes of a training batch per forward pass); at or below
            // the training context the batch is the test score's, so the 1× entry is that score exactly.
            int batch = context <= trainingContext ? batchSize : (int)Math.Max(1, (long)batchSize * trainingContext / context);
            BitsPerByteResult result = BitsPerByteEvaluator.Windowed(model, [testBytes], context, context, batch, cancellationToken);
            points.Add(new ContextPoint(context, result.BitsPerByte, result.BytesScored, null));
        }
        return points;
    }

    /// <summary>Why <paramref name="model"/> cannot score windows of <paramref name="context"/> bytes, or null when it can.</summary>
    public static string? Unavailable(ByteLanguageModel model, int context) =>
        model.MaxWindow is int limit && context > limit
            ? $"{model.Architecture}'s positions end at max_context {limit} bytes (sized to reach the training context, the farthest generation position and the sample)"
            : null;

    /// <summary>How an architecture meets a window longer than it trained on, for the report.</summary>
    public static string Handling(string architecture) => ArchitectureRegistry.Find(architecture)?.LongerWindows ?? "no window limit known to the comparison";
}
