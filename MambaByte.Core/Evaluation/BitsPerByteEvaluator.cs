using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Evaluation;

/// <summary>
/// Bits-per-byte of a model over documents, each predictable byte scored exactly once.
/// <list type="bullet">
/// <item><see cref="Windowed"/>: windows of at most the trained context, advancing by a stride; the first window
/// scores all its bytes, later windows only the ones no earlier window scored (any architecture).</item>
/// <item><see cref="CarriedState"/>: whole documents, chunk after chunk through <see cref="ByteLanguageModel.Prefill"/>
/// with the inference state carried across, so every byte sees its full history (Mamba).</item>
/// <item><see cref="Document"/>: lm-evaluation-harness's document-level bits-per-byte — every byte of every
/// document scored, its first byte included, each document read alone from the model's start state.</item>
/// </list>
/// </summary>
public static class BitsPerByteEvaluator
{
    /// <summary>
    /// The windows covering targets 1..n−1 of a document of <paramref name="length"/> bytes: window k starts at
    /// k·<paramref name="stride"/>, is at most <paramref name="context"/> long, and scores only targets after
    /// those of window k − 1.
    /// </summary>
    public static IEnumerable<EvaluationWindow> Windows(int length, int context, int stride)
    {
        if (context < 1) throw new ArgumentException($"--context {context}: expected >= 1");
        if (stride < 1 || stride > context) throw new ArgumentException($"--stride {stride}: expected 1 to the context length {context}");
        if (length < 2) yield break;
        int nextTarget = 1;
        for (int begin = 0; ; begin += stride)
        {
            int end = Math.Min(begin + context, length - 1);
            yield return new EvaluationWindow(begin, end, nextTarget);
            nextTarget = end + 1;
            if (end == length - 1) yield break;
        }
    }

    public static BitsPerByteResult Windowed(
        ByteLanguageModel model, IEnumerable<ReadOnlyMemory<byte>> documents, int context, int stride,
        int batchSize = 8, CancellationToken cancellationToken = default)
    {
        if (batchSize < 1) throw new ArgumentException($"--batch-size {batchSize}: expected >= 1");
        long documentCount = 0;
        IEnumerable<(ReadOnlyMemory<byte>, EvaluationWindow)> All()
        {
            foreach (ReadOnlyMemory<byte> document in documents)
            {
                documentCount++;
                foreach (EvaluationWindow window in Windows(document.Length, context, stride)) yield return (document, window);
            }
        }
        (double nats, long scored) = ScoreAll(model, All(), context, batchSize, cancellationToken);
        return BitsPerByteResult.From(nats / Math.Log(2), scored, documentCount);
    }

    /// <summary>
    /// Document-level bits-per-byte as lm-evaluation-harness defines it (<c>bits_per_byte</c> = −Σ log p / Σ bytes / ln 2,
    /// pooled over the corpus): every byte of every document is scored exactly once, the first byte included, and
    /// each document starts from the model's start state and never sees another document. The first byte is
    /// predicted after <paramref name="startByte"/> (see <c>MambaByte.Data.DocumentStart</c>): a document of n bytes
    /// is read as the n + 1 bytes [start, x_0, …, x_{n−1}] whose n targets are x_0 … x_{n−1}, as the harness puts its
    /// prefix token (EOT/BOS) before a document. Mamba (<paramref name="carryState"/>) runs each document through
    /// <see cref="ByteLanguageModel.Prefill"/> chunk after chunk from a zero state, so every byte sees the whole
    /// document before it. Attention models use the harness's rolling windows with no overlap: windows of
    /// <paramref name="context"/> (the trained context) back to back, the last one shifted back to end at the
    /// document's end and scoring only its new bytes (<see cref="DocumentWindows"/>).
    /// </summary>
    public static BitsPerByteResult Document(
        ByteLanguageModel model, IEnumerable<ReadOnlyMemory<byte>> documents, int context, byte startByte, bool carryState,
        int batchSize = 8, CancellationToken cancellationToken = default)
    {
        if (context < 1) throw new ArgumentException($"--context {context}: expected >= 1");
        if (batchSize < 1) throw new ArgumentException($"--batch-size {batchSize}: expected >= 1");
        long documentCount = 0;
        IEnumerable<ReadOnlyMemory<byte>> Prefixed()
        {
            foreach (ReadOnlyMemory<byte> document in documents)
            {
                documentCount++;
                if (document.Length == 0) continue;
                var prefixed = new byte[document.Length + 1];
                prefixed[0] = startByte;
                document.Span.CopyTo(prefixed.AsSpan(1));
                yield return prefixed;
            }
        }
        if (carryState) return CarriedState(model, Prefixed(), context, cancellationToken) with { Documents = documentCount };

        IEnumerable<(ReadOnlyMemory<byte>, EvaluationWindow)> All()
        {
            foreach (ReadOnlyMemory<byte> prefixed in Prefixed())
                foreach (EvaluationWindow window in DocumentWindows(prefixed.Length - 1, context)) yield return (prefixed, window);
        }
        (double nats, long scored) = ScoreAll(model, All(), context, batchSize, cancellationToken);
        return BitsPerByteResult.From(nats / Math.Log(2), scored, documentCount);
    }

    /// <summary>
    /// lm-evaluation-harness's rolling windows with no overlap (<c>get_rolling_token_windows</c>, context length 1)
    /// over a document of <paramref name="length"/> bytes read after the start byte, in positions of that prefixed
    /// sequence (the start byte is position 0, targets 1..length): the first window is [0, min(context, length));
    /// each later window predicts the next up to <paramref name="context"/> bytes from exactly
    /// <paramref name="context"/> inputs ending just before its last target, scoring only bytes no window scored.
    /// </summary>
    public static IEnumerable<EvaluationWindow> DocumentWindows(int length, int context)
    {
        if (context < 1) throw new ArgumentException($"--context {context}: expected >= 1");
        if (length < 1) yield break;
        int predicted = Math.Min(context, length);
        yield return new EvaluationWindow(0, predicted, 1);
        while (predicted < length)
        {
            int end = predicted + Math.Min(length - predicted, context);
            yield return new EvaluationWindow(end - context, end, predicted + 1);
            predicted = end;
        }
    }

    /// <summary>Scores windows in batches: full-length windows share a batch; a shorter one goes alone.</summary>
    static (double Nats, long Scored) ScoreAll(
        ByteLanguageModel model, IEnumerable<(ReadOnlyMemory<byte> Document, EvaluationWindow Window)> windows, int context,
        int batchSize, CancellationToken cancellationToken)
    {
        Device device = Generation.ByteGenerator.ModelDevice(model);
        double nats = 0;
        long scored = 0;
        var pending = new List<(ReadOnlyMemory<byte> Document, EvaluationWindow Window)>();

        void Flush()
        {
            if (pending.Count == 0) return;
            cancellationToken.ThrowIfCancellationRequested();
            (double n, long s) = ScoreWindows(model, device, pending);
            nats += n;
            scored += s;
            pending.Clear();
        }

        using (InferenceMode.Enter(model))
        {
            foreach ((ReadOnlyMemory<byte> document, EvaluationWindow window) in windows)
            {
                if (window.Length != context)
                {
                    Flush();
                    pending.Add((document, window));
                    Flush();
                    continue;
                }
                pending.Add((document, window));
                if (pending.Count == batchSize) Flush();
            }
            Flush();
        }
        return (nats, scored);
    }

    public static BitsPerByteResult CarriedState(
        ByteLanguageModel model, IEnumerable<ReadOnlyMemory<byte>> documents, int chunk,
        CancellationToken cancellationToken = default)
    {
        if (chunk < 1) throw new ArgumentException($"--context {chunk}: expected >= 1");
        Device device = Generation.ByteGenerator.ModelDevice(model);
        double nats = 0;
        long scored = 0, documentCount = 0;
        using (InferenceMode.Enter(model))
        {
            foreach (ReadOnlyMemory<byte> document in documents)
            {
                documentCount++;
                if (document.Length < 2) continue;
                using var state = model.NewState(1);
                for (int begin = 0; begin < document.Length - 1; begin += chunk)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var window = new EvaluationWindow(begin, Math.Min(begin + chunk, document.Length - 1), begin + 1);
                    using var scope = NewDisposeScope();
                    (Tensor input, Tensor target) = Batch(device, [(document, window)]);
                    Tensor logits = model.Prefill(input, state);                             // (1, l, 256)
                    Tensor logProbabilities = TargetLogProbabilities(logits, target);        // (1, l)
                    nats -= logProbabilities.sum().item<double>();
                    scored += window.Length;
                }
            }
        }
        return BitsPerByteResult.From(nats / Math.Log(2), scored, documentCount);
    }

    static (double Nats, long Scored) ScoreWindows(ByteLanguageModel model, Device device, List<(ReadOnlyMemory<byte> Document, EvaluationWindow Window)> windows)
    {
        using var scope = NewDisposeScope();
        (Tensor input, Tensor target) = Batch(device, windows);
        Tensor logits = model.forward(input);                                                // (b, l, 256)
        Tensor logProbabilities = TargetLogProbabilities(logits, target).cpu();              // (b, l)
        double[] values = logProbabilities.data<double>().ToArray();
        int length = windows[0].Window.Length;
        double nats = 0;
        long scored = 0;
        for (int b = 0; b < windows.Count; b++)
        {
            EvaluationWindow w = windows[b].Window;
            for (int j = w.FirstScoredOffset; j < w.Length; j++) nats -= values[b * length + j];
            scored += w.Length - w.FirstScoredOffset;
        }
        return (nats, scored);
    }

    /// <summary>log p(target) per position, in float64 so sums over millions of bytes stay exact enough.</summary>
    static Tensor TargetLogProbabilities(Tensor logits, Tensor target) =>
        nn.functional.log_softmax(logits.to(float64), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1);

    /// <summary>Inputs and targets (b, l) int64 for windows of one common length.</summary>
    static (Tensor Input, Tensor Target) Batch(Device device, IReadOnlyList<(ReadOnlyMemory<byte> Document, EvaluationWindow Window)> windows)
    {
        int length = windows[0].Window.Length;
        var input = new long[windows.Count * length];
        var target = new long[windows.Count * length];
        for (int b = 0; b < windows.Count; b++)
        {
            ReadOnlySpan<byte> bytes = windows[b].Document.Span;
            EvaluationWindow w = windows[b].Window;
            for (int j = 0; j < length; j++)
            {
                input[b * length + j] = bytes[w.Begin + j];
                target[b * length + j] = bytes[w.Begin + j + 1];
            }
        }
        return (tensor(input, [windows.Count, length], device: device), tensor(target, [windows.Count, length], device: device));
    }
}
