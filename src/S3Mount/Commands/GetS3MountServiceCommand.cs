using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>Lists mount services, S3Mount's and recipe-made, with state and health.</summary>
[Cmdlet(VerbsCommon.Get, "S3MountService")]
[OutputType(typeof(S3MountService))]
public sealed class GetS3MountServiceCommand : ServiceCmdlet<NodeResult<MountService>>
{
    /// <summary>Only services of these buckets (wildcards allowed).</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Bucket { get; set; }

    /// <summary>An offline image root to list from instead of this machine.</summary>
    [Parameter]
    public string? Root { get; set; }

    protected override string Activity => "Get-S3MountService";

    protected override string? ImageRoot => Root;

    // Wildcard names are matched here, after listing everything.
    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths) =>
        names.Any(WildcardPattern.ContainsWildcardCharacters) ? NodeOperations.List(null, Root) : NodeOperations.List(names, Root, paths);

    protected override NodeResult<MountService> Parse(ResultBlock block) => NodeResultParser.Services(block);

    protected override void Write(NodeResult<MountService> result, string? instanceId)
    {
        var namePatterns = SelectedNames().Where(WildcardPattern.ContainsWildcardCharacters).Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToList();
        var bucketPatterns = (Bucket ?? Array.Empty<string>()).Select(b => WildcardPattern.Get(b, WildcardOptions.IgnoreCase)).ToList();
        foreach (var w in result.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        foreach (var s in result.Items)
        {
            if ((namePatterns.Count == 0 || namePatterns.Any(p => p.IsMatch(s.Name))) && (bucketPatterns.Count == 0 || bucketPatterns.Any(p => p.IsMatch(s.Bucket))))
            {
                WriteObject(S3MountService.From(s, instanceId));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }
}
