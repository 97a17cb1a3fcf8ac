namespace MambaByte.Data;

/// <summary>
/// Training batches for a recurrent model whose state is carried from window to window (truncated backpropagation
/// through time). Each of the <c>batchSize</c> rows is a lane that reads its own stretch of the split window after
/// window, in document order: lane r starts at ⌊r·N/B⌋ (N the split's bytes, B the lanes), so after N/B bytes per
/// lane one pass has covered the split once; a lane that reaches the end of the split continues at its start, so the
/// split is read as a cycle. A batch holds <c>windows</c> consecutive windows of <c>contextLength</c> bytes per lane
/// (T = windows·contextLength inputs, the targets one byte later).
/// <para>
/// Document boundaries come from the split's index. Where a target is the first byte of a document (at a document
/// start, or at the split's start after the wrap), the input before it is replaced by the start byte
/// (<see cref="DocumentStart"/>) and <see cref="ByteBatch.ResetBefore"/> marks that position: the trainer zeroes
/// the lane's state there, so the document is read exactly as if it were alone — its first byte predicted after the
/// start byte from a zero state — and no state crosses from one document into the next. With a separator the
/// replaced byte is the separator itself.
/// </para>
/// Batch k is a pure function of the lane positions, so <see cref="State"/> (the positions of the next batch)
/// restores the exact sequence and the prefetch thread cannot change what comes out.
/// </summary>
public sealed class DocumentStreamSampler : IDisposable
{
    readonly ByteSplit _split;
    readonly long[] _documentStarts; // ascending
    readonly BatchPrefetcher? _prefetcher;
    long[] _positions;
    long _nextBatch;

    public DocumentStreamSampler(ByteSplit split, int contextLength, int windows, int batchSize, byte startByte,
        long nextBatch = 0, long[]? lanePositions = null, int prefetch = 4)
    {
        SamplerArguments.Check(split, contextLength, batchSize, nextBatch, prefetch);
        if (windows < 1) throw new ArgumentException($"--bptt-windows {windows}: expected >= 1");
        if ((long)windows * contextLength > int.MaxValue / Math.Max(1, batchSize))
            throw new ArgumentException($"--bptt-windows {windows} × --context {contextLength} × --batch-size {batchSize} bytes do not fit one batch");
        _split = split;
        ContextLength = contextLength;
        Windows = windows;
        BatchSize = batchSize;
        StartByte = startByte;
        _documentStarts = new long[split.DocumentCount];
        for (int d = 0; d < split.DocumentCount; d++) _documentStarts[d] = split.Document(d).Start;
        Array.Sort(_documentStarts);
        if (lanePositions is null)
        {
            _positions = SpreadLanes(split.Length, batchSize);
        }
        else
        {
            if (lanePositions.Length != batchSize)
                throw new ArgumentException($"the sampler state has {lanePositions.Length} lane positions for {batchSize} lanes");
            if (lanePositions.Any(p => p < 0 || p >= split.Length))
                throw new ArgumentException($"the sampler state has a lane position outside split '{split.Name}' of {split.Length} bytes");
            _positions = (long[])lanePositions.Clone();
        }
        _nextBatch = nextBatch;
        if (prefetch == 0) return;

        _prefetcher = new BatchPrefetcher($"DocumentStreamSampler({split.Name})", prefetch, Batches((long[])_positions.Clone()));
    }

    public int ContextLength { get; }

    /// <summary>Windows per batch: gradients flow through the carried state across them (<c>--bptt-windows</c>).</summary>
    public int Windows { get; }

    public int BatchSize { get; }

    public byte StartByte { get; }

    /// <summary>Inputs per lane in a batch: <see cref="Windows"/> × <see cref="ContextLength"/>.</summary>
    public int BatchLength => Windows * ContextLength;

    /// <summary>The state after the batches returned so far.</summary>
    public DocumentStreamState State => new(_split.Name, ContextLength, Windows, BatchSize, StartByte, _nextBatch, (long[])_positions.Clone());

    public static DocumentStreamSampler FromState(ByteSplit split, DocumentStreamState state, int prefetch = 4)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Split != split.Name)
            throw new ArgumentException($"the sampler state belongs to split '{state.Split}', not '{split.Name}'");
        if (state.StartByte is < 0 or > 255) throw new ArgumentException($"the sampler state's start byte {state.StartByte} is not a byte value");
        return new DocumentStreamSampler(split, state.ContextLength, state.Windows, state.BatchSize, (byte)state.StartByte,
            state.NextBatch, state.LanePositions, prefetch);
    }

    /// <summary>Lane r starts at ⌊r·N/B⌋: equal stretches, so one pass of N/B bytes per lane reads the split once.</summary>
    public static long[] SpreadLanes(long length, int lanes) =>
        Enumerable.Range(0, lanes).Select(r => (long)((Int128)r * length / lanes)).ToArray();

    public ByteBatch Next()
    {
        ByteBatch batch = _prefetcher is null
            ? BuildBatch(_positions)
            : _prefetcher.Take(() => $"building batch {_nextBatch} of split '{_split.Name}'");
        _positions = Advance(batch.Offsets);
        _nextBatch++;
        return batch;
    }

    long[] Advance(long[] positions) => positions.Select(p => (p + BatchLength) % _split.Length).ToArray();

    /// <summary>The batch whose lanes read from <paramref name="positions"/> on.</summary>
    public ByteBatch BuildBatch(long[] positions)
    {
        int length = BatchLength;
        var inputs = new byte[positions.Length * length];    // (b, T)
        var targets = new byte[positions.Length * length];   // (b, T)
        var resets = new bool[positions.Length * length];    // (b, T)
        for (int row = 0; row < positions.Length; row++)
        {
            Span<byte> input = inputs.AsSpan(row * length, length);
            Span<byte> target = targets.AsSpan(row * length, length);
            CopyCyclic(positions[row], input);
            CopyCyclic((positions[row] + 1) % _split.Length, target);
            MarkDocumentStarts(positions[row], input, resets.AsSpan(row * length, length));
        }
        return new ByteBatch(positions.Length, length, inputs, targets) { Offsets = (long[])positions.Clone(), ResetBefore = resets };
    }

    /// <summary>Bytes from <paramref name="offset"/> on, continuing at the split's start after its end.</summary>
    void CopyCyclic(long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int take = (int)Math.Min(destination.Length - done, _split.Length - offset);
            _split.Slice(offset, take).CopyTo(destination[done..]);
            done += take;
            offset = (offset + take) % _split.Length;
        }
    }

    /// <summary>
    /// Input j of a lane at <paramref name="offset"/> has target (offset + j + 1) mod N; where that target is a
    /// document start, input j becomes the start byte and the state resets before it.
    /// </summary>
    void MarkDocumentStarts(long offset, Span<byte> input, Span<bool> reset)
    {
        long first = offset + 1, last = offset + input.Length;     // unwrapped target positions
        for (long cycle = first / _split.Length * _split.Length; cycle <= last; cycle += _split.Length)
        {
            long low = Math.Max(first, cycle) - cycle, high = Math.Min(last, cycle + _split.Length - 1) - cycle;
            int index = Array.BinarySearch(_documentStarts, low);
            if (index < 0) index = ~index;
            for (; index < _documentStarts.Length && _documentStarts[index] <= high; index++)
            {
                int j = (int)(_documentStarts[index] + cycle - first);
                input[j] = StartByte;
                reset[j] = true;
            }
        }
    }

    IEnumerable<ByteBatch> Batches(long[] positions)
    {
        for (; ; positions = Advance(positions)) yield return BuildBatch(positions);
    }

    public void Dispose() => _prefetcher?.Dispose();
}
