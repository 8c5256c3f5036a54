using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.Engine.Fleet;

/// <summary>One item of a fleet run's stream: a node result or a progress update.</summary>
public sealed class FleetEvent<T>
{
    public FleetNodeResult<T>? Result { get; init; }
    public FleetProgress? Progress { get; init; }
}

/// <summary>
/// A running fleet operation (one or more requests) whose results and progress are queued, in one queue, for the caller's own thread
/// (the cmdlet drains <see cref="GetConsumingEnumerable"/> on the pipeline thread, then awaits <see cref="Completion"/>).
/// </summary>
public sealed class FleetRun<T> : IFleetSink<T>, IDisposable
{
    private readonly BlockingCollection<FleetEvent<T>> _queue = new();

    internal FleetRun()
    {
    }

    /// <summary>Finishes when every node has its result; faults only on a bad request or unusable environment.</summary>
    public Task<FleetRunSummary> Completion { get; internal set; } = Task.FromResult(new FleetRunSummary());

    /// <summary>Yields events as they arrive and ends when the run is over (also after a fault or cancellation).</summary>
    public IEnumerable<FleetEvent<T>> GetConsumingEnumerable() => _queue.GetConsumingEnumerable();

    void IFleetSink<T>.OnResult(FleetNodeResult<T> result) => TryAdd(new FleetEvent<T> { Result = result });

    void IFleetSink<T>.OnProgress(FleetProgress progress) => TryAdd(new FleetEvent<T> { Progress = progress });

    private void TryAdd(FleetEvent<T> e)
    {
        try
        {
            _queue.Add(e);
        }
        catch (InvalidOperationException)
        {
            // Completed already, or disposed by a caller that left (Ctrl+C): nothing listens any more.
        }
    }

    internal void Complete()
    {
        try
        {
            _queue.CompleteAdding();
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose() => _queue.Dispose();
}

/// <summary>A sink that calls delegates (tests, benchmarks).</summary>
public sealed class DelegateFleetSink<T> : IFleetSink<T>
{
    private readonly Action<FleetNodeResult<T>> _onResult;
    private readonly Action<FleetProgress>? _onProgress;

    public DelegateFleetSink(Action<FleetNodeResult<T>> onResult, Action<FleetProgress>? onProgress = null)
    {
        _onResult = onResult;
        _onProgress = onProgress;
    }

    public void OnResult(FleetNodeResult<T> result) => _onResult(result);

    public void OnProgress(FleetProgress progress) => _onProgress?.Invoke(progress);
}
