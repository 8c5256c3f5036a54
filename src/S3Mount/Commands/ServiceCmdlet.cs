using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Commands;

/// <summary>
/// A cmdlet that selects existing mount services by <c>-Name</c> and/or <c>-Path</c> (both bind by property name, so
/// Get-S3MountService output pipes in and goes back to where it was listed; a piped string or Get-Item result is a path).
/// </summary>
public abstract class ServiceCmdlet : NodeCmdlet
{
    private readonly Dictionary<string, (SortedSet<string> Names, SortedSet<string> Paths)> _selection = new(StringComparer.Ordinal);

    /// <summary>Service names, <c>mountpoint-s3-17a82347</c> or <c>mountpoint-s3-17a82347.service</c>.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? Name { get; set; }

    /// <summary>Mount paths on the node; selects the services that mount there. A piped string or Get-Item result binds here.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServicePathCompleter))]
    [Alias("FullName")]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? Path { get; set; }

    /// <summary>True where -Name and -Path take wildcards (Get-S3MountService).</summary>
    protected virtual bool SupportsWildcards => false;

    /// <summary>This record's selection: exact names and paths (normalised), and wildcard patterns where supported.</summary>
    protected sealed class Selection
    {
        public List<string> Names { get; } = new();
        public List<string> Paths { get; } = new();
        public List<WildcardPattern> NamePatterns { get; } = new();
        public List<WildcardPattern> PathPatterns { get; } = new();

        public bool HasPatterns => NamePatterns.Count + PathPatterns.Count > 0;

        /// <summary>Does a listed service match (used when patterns made the node list everything)?</summary>
        public bool Matches(string name, string path) =>
            (Names.Count + Paths.Count + NamePatterns.Count + PathPatterns.Count == 0)
            || Names.Contains(name, StringComparer.Ordinal) || Paths.Contains(path, StringComparer.Ordinal)
            || NamePatterns.Any(p => p.IsMatch(name)) || PathPatterns.Any(p => p.IsMatch(path));
    }

    /// <summary>
    /// Reads -Name and -Path of this record. A Get-Item result binds its FullName to -Path and its leaf Name to -Name;
    /// that Name is not a service name and is dropped. Throws <see cref="S3MountException"/> on a bad name or path.
    /// </summary>
    protected Selection Select()
    {
        var selection = new Selection();
        var paths = (Path ?? Array.Empty<string>()).Where(p => !string.IsNullOrEmpty(p)).ToList();
        if (InputObject?.BaseObject is string piped && piped.Length > 0)
        {
            paths.Add(piped);
        }
        foreach (var p in paths.Distinct(StringComparer.Ordinal))
        {
            if (SupportsWildcards && WildcardPattern.ContainsWildcardCharacters(p))
            {
                selection.PathPatterns.Add(WildcardPattern.Get(p, WildcardOptions.IgnoreCase));
            }
            else
            {
                selection.Paths.Add(MountPath.NormalizeAbsolute(p, "The mount path (-Path, a path on the node)", ErrorIds.PathInvalid, refuseSystem: false));
            }
        }

        var leaves = new HashSet<string>(paths.Select(p => System.IO.Path.GetFileName(p.TrimEnd('/'))), StringComparer.Ordinal);
        foreach (var n in (Name ?? Array.Empty<string>()).Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.Ordinal))
        {
            if (SupportsWildcards && WildcardPattern.ContainsWildcardCharacters(n))
            {
                selection.NamePatterns.Add(WildcardPattern.Get(n.EndsWith(UnitNames.Suffix, StringComparison.Ordinal) || n.EndsWith("*", StringComparison.Ordinal) ? n : n + UnitNames.Suffix, WildcardOptions.IgnoreCase));
            }
            else if (!UnitNames.IsMountUnit(n.EndsWith(UnitNames.Suffix, StringComparison.Ordinal) ? n : n + UnitNames.Suffix) && leaves.Contains(n))
            {
                // The Name of a piped file system item (the leaf of the Path it also gave): not a service name.
            }
            else
            {
                selection.Names.Add(UnitNames.Normalize(n));
            }
        }

        return selection;
    }

    /// <summary>What a selection names, for ShouldProcess and messages.</summary>
    protected static string Describe(IReadOnlyList<string> names, IReadOnlyList<string> paths) =>
        names.Count + paths.Count == 0 ? "all mount services" : string.Join(", ", names.Concat(paths.Select(p => "the service at " + p)));

    /// <summary>Remembers the selection of this record for an instance (nodes with equal selections share one script).</summary>
    protected void Collect(string instanceId, IEnumerable<string> names, IEnumerable<string> paths)
    {
        if (!_selection.TryGetValue(instanceId, out var s))
        {
            _selection[instanceId] = s = (new SortedSet<string>(StringComparer.Ordinal), new SortedSet<string>(StringComparer.Ordinal));
        }

        s.Names.UnionWith(names);
        s.Paths.UnionWith(paths);
    }

    /// <summary>Queues one script per collected instance, built from its selection.</summary>
    protected void QueueCollected(Func<IReadOnlyList<string>, IReadOnlyList<string>, NodeScript> build)
    {
        foreach (var kv in _selection)
        {
            NodeScript script;
            try
            {
                script = build(kv.Value.Names.ToList(), kv.Value.Paths.ToList());
            }
            catch (S3MountException e)
            {
                Fail(e, kv.Key);
                continue;
            }

            QueueFleet(kv.Key, script, kv.Key);
        }

        _selection.Clear();
    }

    /// <summary>Writes the per-service failures of a node as non-terminating errors.</summary>
    protected void WriteFailures(IEnumerable<ServiceFailure> failures, string? instanceId)
    {
        foreach (var f in failures)
        {
            var prefix = instanceId is null ? string.Empty : instanceId + ": ";
            Fail(new S3MountException(f.Error.ErrorId, f.Error.Kind, prefix + f.Error.Message, f.Name), instanceId is null ? f.Name : instanceId + "/" + f.Name);
        }
    }

    /// <summary>Writes each warning once, prefixed with the node for a fleet.</summary>
    protected void WriteWarnings(IEnumerable<string> warnings, string? instanceId, string? service = null)
    {
        foreach (var w in warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + (service is null ? string.Empty : service + ": ") + w);
        }
    }

    /// <summary>ShouldProcess for a change; <c>-Force</c> skips the confirmation prompt but never <c>-WhatIf</c>.</summary>
    protected bool Approve(string target, string action, bool force)
    {
        if (force && !IsWhatIf && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            WriteVerbose($"Performing the operation \"{action}\" on target \"{target}\" (-Force).");
            return true;
        }

        return ShouldProcess(target, action);
    }
}

/// <summary>
/// The one skeleton of every service operation: this record's selection is validated into a script at once (a bad
/// record is a non-terminating error for that record only); on this machine or in an image it runs now, on a fleet it
/// is collected per instance (ShouldProcess once per node and selection) and sent in EndProcessing, with -Target as
/// one run over the targets.
/// </summary>
public abstract class ServiceCmdlet<TResult> : ServiceCmdlet
{
    private readonly SortedSet<string> _targetNames = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _targetPaths = new(StringComparer.Ordinal);
    private Selection? _lastSelection;

    /// <summary>The command name, for progress.</summary>
    protected abstract string Activity { get; }

    /// <summary>The ShouldProcess action, or null for an operation that changes nothing.</summary>
    protected virtual string? Action => null;

    /// <summary>-Force: skips confirmation (never -WhatIf).</summary>
    protected virtual bool SkipConfirmation => false;

    /// <summary>The script for a selection, on a live node (<paramref name="root"/> null) or in an image.</summary>
    protected abstract NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root);

    protected abstract TResult Parse(ResultBlock block);

    /// <summary>Writes one node's result to the pipeline (on the pipeline thread).</summary>
    protected abstract void Write(TResult result, string? instanceId, string? root, Selection selection);

    protected override void ProcessRecord()
    {
        Selection selection;
        try
        {
            selection = Select();
        }
        catch (S3MountException e)
        {
            Fail(e, e.Target);
            return;
        }

        _lastSelection = selection;
        var names = selection.HasPatterns ? (IReadOnlyList<string>)Array.Empty<string>() : selection.Names;
        var paths = selection.HasPatterns ? (IReadOnlyList<string>)Array.Empty<string>() : selection.Paths;
        if (IsTargets)
        {
            _targetNames.UnionWith(names);
            _targetPaths.UnionWith(paths);
            return;
        }

        if (IsFleet)
        {
            foreach (var id in CurrentInstances())
            {
                if (Approved(names, paths, id, null))
                {
                    Collect(id, names, paths);
                }
            }

            return;
        }

        if (!TryLocal(out var root))
        {
            return;
        }

        NodeScript script;
        try
        {
            script = BuildScript(names, paths, root);
        }
        catch (S3MountException e)
        {
            Fail(e, e.Target);
            return;
        }

        if (Approved(names, paths, null, root))
        {
            var block = RunLocal(script, null);
            TResult result;
            try
            {
                result = Parse(block);
            }
            catch (S3MountException e)
            {
                // A script-level failure of this machine: one error record with the node's own id, then go on.
                Fail(e, root ?? LocalHostName);
                return;
            }

            Write(result, null, root, selection);
        }
    }

    protected override void EndProcessing()
    {
        var selection = _lastSelection ?? new Selection();
        if (IsTargets)
        {
            var names = _targetNames.ToList();
            var paths = _targetPaths.ToList();
            NodeScript script;
            try
            {
                script = BuildScript(names, paths, null);
            }
            catch (S3MountException e)
            {
                Terminate(e);
                throw;
            }

            if (Approved(names, paths, null, null))
            {
                RunFleet(Activity, Parse, (id, r, _) => Write(r, id, null, selection), script);
            }

            return;
        }

        QueueCollected((n, p) => BuildScript(n, p, null));
        RunFleet(Activity, Parse, (id, r, _) => Write(r, id, null, selection));
    }

    private bool Approved(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? instanceId, string? root) =>
        Action is null || Approve(Describe(names, paths) + Where(instanceId, root), Action, SkipConfirmation);
}
