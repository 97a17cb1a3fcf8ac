using System.Collections.Concurrent;

namespace MambaByte.Data;

/// <summary>
/// Builds a sampler's next batches on a background thread, at most <c>capacity</c> ahead. The batches come from a
/// deterministic sequence the sampler supplies, so prefetching cannot change what is returned; an exception while
/// building is rethrown by the <see cref="Take"/> that would have returned the failed batch.
/// </summary>
internal sealed class BatchPrefetcher : IDisposable
{
    readonly BlockingCollection<ByteBatch> _queue;
    readonly CancellationTokenSource _stop = new();
    readonly Thread _producer;
    Exception? _producerError;

    /// <param name="batches">The batches in order, enumerated on the background thread (an endless sequence).</param>
    public BatchPrefetcher(string threadName, int capacity, IEnumerable<ByteBatch> batches)
    {
        _queue = new BlockingCollection<ByteBatch>(capacity);
        _producer = new Thread(() => Produce(batches)) { IsBackground = true, Name = threadName };
        _producer.Start();
    }

    /// <summary>The next batch; <paramref name="what"/> names it in the error when building it failed ("building batch 7 of split 'train'").</summary>
    public ByteBatch Take(Func<string> what)
    {
        try
        {
            return _queue.Take(_stop.Token);
        }
        catch (InvalidOperationException) when (_producerError is not null)
        {
            throw new InvalidOperationException($"{what()} failed: {_producerError.Message}", _producerError);
        }
    }

    void Produce(IEnumerable<ByteBatch> batches)
    {
        try
        {
            foreach (ByteBatch batch in batches)
            {
                if (_stop.IsCancellationRequested) break;
                _queue.Add(batch, _stop.Token);
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e)
        {
            _producerError = e;
            _queue.CompleteAdding();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _producer.Join();
        _queue.Dispose();
        _stop.Dispose();
    }
}
