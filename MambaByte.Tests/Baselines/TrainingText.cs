using System.Text;

namespace MambaByte.Tests.Baselines;

/// <summary>
/// The first 2 KB of the traditional cumulative rhyme "This Is the House That Jack Built" (public domain), built
/// verse by verse from its clauses. Real text with heavy repetition: a tiny model that learns to use its context
/// compresses it well below 1 bit per byte in a few hundred steps, while a unigram byte model needs about 4.
/// </summary>
internal static class TrainingText
{
    private static readonly string[] Clauses =
    [
        "the house that Jack built",
        "the malt that lay in",
        "the rat that ate",
        "the cat that killed",
        "the dog that worried",
        "the cow with the crumpled horn that tossed",
        "the maiden all forlorn that milked",
        "the man all tattered and torn that kissed",
        "the priest all shaven and shorn that married",
        "the cock that crowed in the morn that waked",
        "the farmer sowing his corn that kept",
    ];

    public const int Length = 2048;

    public static byte[] Bytes { get; } = Build();

    private static byte[] Build()
    {
        var text = new StringBuilder();
        for (int verse = 0; text.Length < Length; verse = (verse + 1) % Clauses.Length)
        {
            text.Append("This is ");
            for (int clause = verse; clause >= 0; clause--) text.Append(Clauses[clause]).Append(clause == 0 ? ".\n" : " ");
        }
        return Encoding.UTF8.GetBytes(text.ToString(0, Length));
    }
}
