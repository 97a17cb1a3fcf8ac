using System.Text;
using System.Text.Json.Serialization;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;

namespace MambaByte.Train.Compare;

/// <summary>
/// The one sample every model writes for the report: the same prompt, length and sampling settings and the same
/// seed, drawn with <c>mambabyte generate</c>'s sampler (<see cref="ByteGenerator"/>), so a rerun prints the same text.
/// </summary>
public sealed record ComparisonSampling
{
    public string Prompt { get; init; } = "And God said";
    public int Bytes { get; init; } = 200;
    public double Temperature { get; init; } = 0.8;
    public int TopK { get; init; } = 40;
    public ulong Seed { get; init; } = 1;

    [JsonIgnore]
    public byte[] PromptBytes => Encoding.UTF8.GetBytes(Prompt);

    public SamplingOptions ToSamplingOptions() => new(Temperature, TopK, TopP: 1.0, Seed);

    public void Validate()
    {
        if (Prompt.Length == 0) throw new ArgumentException("--sample-prompt: give at least one character (generation conditions on the prompt)");
        if (Bytes < 0) throw new ArgumentException($"--sample-bytes {Bytes}: expected >= 0 (0 = no samples)");
        try
        {
            ToSamplingOptions().Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message.Replace("--temperature", "--sample-temperature").Replace("--top-k", "--sample-top-k"), e);
        }
    }

    /// <summary>
    /// The model's continuation of <see cref="Prompt"/> (prompt excluded) as UTF-8 text, invalid sequences as U+FFFD;
    /// null when <see cref="Bytes"/> is 0.
    /// </summary>
    public string? Draw(ByteLanguageModel model, CancellationToken cancellationToken)
    {
        if (Bytes == 0) return null;
        GenerationResult result = ByteGenerator.Generate(model, PromptBytes, Bytes, ToSamplingOptions(), cancellationToken: cancellationToken);
        return Encoding.UTF8.GetString(result.Bytes);
    }
}
