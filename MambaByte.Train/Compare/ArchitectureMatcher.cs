using System.Globalization;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Models;

namespace MambaByte.Train.Compare;

/// <summary>
/// Picks every architecture's dims from one size knob. The registry's default architecture (Mamba) at size S is the
/// reference; each other architecture searches its own size knob (<see cref="IArchitecture.FromSize"/>) and, at each
/// knob value, its fine width (<see cref="IModelConfig.FineWidth"/>: the Transformer's d_mlp, MegaByte's global
/// d_mlp), whose cost grows linearly, so parameters or training FLOPs per byte land within <see cref="Tolerance"/> of the reference's.
/// </summary>
public static class ArchitectureMatcher
{
    public const string MatchParams = "params";
    public const string MatchFlops = "flops";

    /// <summary>The largest allowed |matched / reference − 1|.</summary>
    public const double Tolerance = 0.10;

    /// <summary>Among candidates this close, the one whose MLP width is nearest its default shape wins.</summary>
    const double CloseEnough = 0.01;

    const int MaxSizeKnob = 64;

    public static IReadOnlyList<string> KnownArchitectures => ArchitectureRegistry.Names;

    static IArchitecture ReferenceArchitecture => ArchitectureRegistry.Default;

    /// <summary>
    /// The reference at a size: one of its presets (tiny, small, medium, mambabyte-353m, mambabyte-972m) or an integer
    /// S for its size knob (Mamba: d_model = 64·S, n_layer = 2·S; a Mamba block costs about half a Transformer block, as in the paper's pairs).
    /// </summary>
    public static IModelConfig ReferenceAtSize(string size, SizeContext context)
    {
        string text = size.Trim();
        string presets = string.Join(", ", ReferenceArchitecture.PresetNames);
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int s))
        {
            if (s < 1 || s > MaxSizeKnob) throw new ArgumentException($"--size {size}: expected 1 to {MaxSizeKnob} or a Mamba preset ({presets})");
            return ReferenceArchitecture.FromSize(s, context);
        }
        if (!ReferenceArchitecture.PresetNames.Contains(text, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"--size {size}: expected an integer 1 to {MaxSizeKnob} or a Mamba preset ({presets})");
        return ReferenceArchitecture.Preset(text);
    }

    /// <summary>
    /// The matched model of each architecture, in the order given. <paramref name="maxPosition"/> is the largest
    /// 0-based byte position the comparison will run a model at (MegaByte's learned patch positions must reach it).
    /// Throws <see cref="ArgumentException"/> when an architecture cannot get within <see cref="Tolerance"/>.
    /// </summary>
    public static IReadOnlyList<MatchedModel> Match(IReadOnlyList<string> architectures, string size, string match, int context, long maxPosition)
    {
        if (match is not (MatchParams or MatchFlops)) throw new ArgumentException($"--match {match}: expected params or flops");
        if (context < 1) throw new ArgumentException($"--context {context}: expected >= 1");
        var limits = new SizeContext(context, maxPosition);
        MatchedModel reference = Reference(size, context);
        double target = match == MatchParams ? reference.Parameters : reference.TrainingFlopsPerByte;
        var result = new List<MatchedModel>();
        foreach (string name in architectures)
        {
            IArchitecture architecture = ArchitectureRegistry.Find(name)
                ?? throw new ArgumentException($"--archs: unknown architecture '{name}' (known: {string.Join(", ", KnownArchitectures)})");
            MatchedModel model = architecture == ReferenceArchitecture
                ? reference
                : Matched(ArchitectureRegistry.Validate(SearchSizes(architecture, limits, Measure, target), "compare"), context);
            double ratio = model.RatioTo(reference, match);
            if (Math.Abs(ratio - 1) > Tolerance)
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"--size {size} --match {match}: the closest {architecture.Name} ({model.Shape}) is {ratio:F2}× Mamba's {Quantity(match)}; no {architecture.Name} of this family is within {Tolerance:P0} (try a larger --size)"));
            result.Add(model);
        }
        return result;

        double Measure(IModelConfig c) => match == MatchParams ? c.ParameterCount() : c.TrainingFlopsPerByte(context);
    }

    /// <summary>The reference at <paramref name="size"/>: the model every other architecture is matched to.</summary>
    public static MatchedModel Reference(string size, int context) =>
        Matched(ArchitectureRegistry.Validate(ReferenceAtSize(size, new SizeContext(context, context)), "--size"), context);

    public static string Quantity(string match) => match == MatchParams ? "parameter count" : "training FLOPs per byte";

    /// <summary>Mamba at <paramref name="size"/> (the reference architecture's config type).</summary>
    public static MambaConfig MambaAtSize(string size) => (MambaConfig)ReferenceAtSize(size, new SizeContext(1, 0));

    /// <summary>
    /// The architecture's config nearest the target: its size knob and fine width through <see cref="Search{TConfig}"/>,
    /// or, for an architecture without a fine width, the size alone (sizes up to the one whose cost passes 4× the target).
    /// </summary>
    static IModelConfig SearchSizes(IArchitecture architecture, SizeContext limits, Func<IModelConfig, double> measure, double target)
    {
        if (architecture.FromSize(1, limits).FineWidth is null)
            return Enumerable.Range(1, MaxSizeKnob).Select(size => architecture.FromSize(size, limits))
                .TakeWhile((c, i) => i == 0 || measure(c) <= 4 * target)
                .MinBy(c => Math.Abs(measure(c) / target - 1))!;
        return Search(size => architecture.FromSize(size, limits), (c, width) => c.WithFineWidth(width), c => c.FineWidth!.Value, measure, target);
    }

    static MatchedModel Matched(IModelConfig config, int context) =>
        new(config.Architecture, config.ConfigJson(), config.ParameterCount(), config.TrainingFlopsPerByte(context), config.Shape);

    /// <summary>
    /// For each value of the size knob (until its default shape costs over 4× the target), the MLP width whose
    /// cost is nearest the target (the cost is increasing in it, so bisection finds it); then the candidate nearest
    /// the target, or among those within 1% the one whose MLP is nearest its default width.
    /// </summary>
    internal static TConfig Search<TConfig>(
        Func<int, TConfig> bySize, Func<TConfig, int, TConfig> withMlp, Func<TConfig, int> defaultMlp,
        Func<TConfig, double> measure, double target)
    {
        var candidates = new List<(TConfig Config, double Error, double Distortion)>();
        for (int size = 1; size <= MaxSizeKnob; size++)
        {
            TConfig shape = bySize(size);
            int mlp0 = defaultMlp(shape);
            if (size > 1 && measure(shape) > 4 * target) break;
            int lo = 1, hi = 64 * mlp0;
            if (measure(withMlp(shape, hi)) < target) lo = hi;
            while (lo < hi)
            {
                int mid = lo + (hi - lo) / 2;
                if (measure(withMlp(shape, mid)) >= target) hi = mid;
                else lo = mid + 1;
            }
            foreach (int mlp in new[] { lo - 1, lo }.Where(m => m >= 1))
            {
                TConfig config = withMlp(shape, mlp);
                candidates.Add((config, Math.Abs(measure(config) / target - 1), Math.Abs(Math.Log((double)mlp / mlp0))));
            }
        }
        var close = candidates.Where(c => c.Error <= CloseEnough).ToList();
        return close.Count > 0
            ? close.MinBy(c => c.Distortion).Config
            : candidates.MinBy(c => c.Error).Config;
    }
}
