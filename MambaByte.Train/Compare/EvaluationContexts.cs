using System.Globalization;

namespace MambaByte.Train.Compare;

/// <summary>
/// <c>--contexts</c>: the evaluation window lengths of the bits-per-byte-against-context table. Each comma-separated
/// item is a multiple of the training <c>--context</c> written with an x (<c>4x</c>; decimals allowed, <c>0.5x</c>)
/// or an explicit length in bytes (<c>4096</c>). The default, 1×, 4× and 16× the training context, tests MambaByte's
/// claim that it holds its score at windows of 4× and more the length it was trained on.
/// </summary>
public static class EvaluationContexts
{
    public const string Default = "1x,4x,16x";

    /// <summary>The lengths in bytes, ascending, each once; throws <see cref="ArgumentException"/> naming <c>--contexts</c>.</summary>
    public static IReadOnlyList<int> Parse(string spec, int trainingContext)
    {
        string Problem(string why) => $"--contexts {spec}: {why} (expected comma-separated multiples of --context such as 1x,4x,16x, or lengths in bytes such as 1024,4096)";
        var lengths = new SortedSet<int>();
        foreach (string item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            bool multiple = item.EndsWith('x') || item.EndsWith('X') || item.EndsWith('×');
            string number = multiple ? item[..^1] : item;
            double length;
            if (multiple)
            {
                if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double factor) || !(factor > 0))
                    throw new ArgumentException(Problem($"'{item}' is not a positive multiple"));
                length = Math.Round(factor * trainingContext);
            }
            else if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) || bytes < 1)
                throw new ArgumentException(Problem($"'{item}' is neither a multiple (4x) nor a positive length in bytes"));
            else length = bytes;
            if (length < 1 || length > 1 << 24) throw new ArgumentException(Problem($"'{item}' gives a window of {length:0} bytes; expected 1 to {1 << 24:N0}"));
            lengths.Add((int)length);
        }
        if (lengths.Count == 0) throw new ArgumentException(Problem("no length given"));
        return [.. lengths];
    }

    /// <summary>A length as a multiple of the training context: "4×", "0.5×", or "1.3×" for lengths between.</summary>
    public static string Multiple(int length, int trainingContext) =>
        ((double)length / trainingContext).ToString("0.##", CultureInfo.InvariantCulture) + "×";
}
