using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using static S3Mount.Cmdlets.Tests.CmdletMetadata;

namespace S3Mount.Cmdlets.Tests;

/// <summary>The cmdlet contract, read from the compiled assembly: verbs, parameters, pipeline, ShouldProcess, output, help, formats.</summary>
public class CmdletSurfaceTests : IClassFixture<CmdletMetadata>
{
    private static readonly string[] Expected =
    {
        "Compare-S3MountService", "Disable-S3MountService", "Enable-S3MountService", "Export-S3MountBootstrap", "Get-MountpointS3", "Get-S3MountIamPolicy",
        "Get-S3MountService", "Install-MountpointS3", "Measure-S3MountThroughput", "New-S3MountService", "Remove-S3MountService", "Repair-S3MountService",
        "Restart-S3MountService", "Start-S3MountService", "Stop-S3MountService", "Sync-S3MountService", "Test-S3MountService",
    };

    // Measure writes test files into the bucket (and deletes them again): it asks first, like the changes.
    private static readonly string[] Changing = { "New", "Remove", "Start", "Stop", "Restart", "Enable", "Disable", "Repair", "Install", "Sync", "Export", "Measure" };

    // Mount-map cmdlets take mounts from the pipeline, not services: they select nothing by Name or Path.
    private static readonly string[] MapCmdlets = { "Compare-S3MountService", "Sync-S3MountService" };


    private readonly CmdletMetadata _m;

    public CmdletSurfaceTests(CmdletMetadata m) => _m = m;

    /// <summary>Cmdlets that work on no node: they take no -InstanceId (the export writes an artifact on this machine, the policy is computed here).</summary>
    private static readonly string[] Offline = { "Export-S3MountBootstrap", "Get-S3MountIamPolicy" };

    public static IEnumerable<object[]> CommandNames() => Expected.Select(e => new object[] { e });

    public static IEnumerable<object[]> NodeCommandNames() => Expected.Except(Offline).Select(e => new object[] { e });

    private Type Cmdlet(string name) => _m.Cmdlets.SingleOrDefault(t => CommandName(t) == name) ?? throw new Xunit.Sdk.XunitException(name + " is not in S3Mount.dll");

    [Fact]
    public void The_assembly_has_exactly_the_documented_cmdlets() =>
        Assert.Equal(Expected, _m.Cmdlets.Select(CommandName).OrderBy(n => n, StringComparer.Ordinal));

    [Fact]
    public void Verbs_are_approved()
    {
        var approved = new[] { "VerbsCommon", "VerbsLifecycle", "VerbsDiagnostic", "VerbsData", "VerbsOther", "VerbsSecurity", "VerbsCommunications" }
            .SelectMany(c => _m.Sma(c).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!)).ToHashSet();
        Assert.All(_m.Cmdlets, t => Assert.Contains(CommandName(t).Split('-')[0], approved));
    }

    [Fact]
    public void Nouns_do_not_collide_with_AWS_Tools() =>
        Assert.All(_m.Cmdlets, t => Assert.DoesNotMatch("S3PSDrive|^S3Object|^SSM", CommandName(t).Split('-')[1]));

    [Fact]
    public void The_manifest_exports_exactly_these_cmdlets_by_name()
    {
        var psd1 = File.ReadAllText(Path.Combine(Repo.Root, "S3Mount.psd1"));
        var list = Regex.Match(psd1, @"CmdletsToExport\s*=\s*@\(([^)]*)\)", RegexOptions.Singleline).Groups[1].Value;
        var names = Regex.Matches(list, "'([^']+)'").Select(m => m.Groups[1].Value).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(Expected, names);
        Assert.DoesNotContain("*", list);
        foreach (var key in new[] { "FunctionsToExport", "VariablesToExport", "AliasesToExport" })
        {
            Assert.Matches(key + @"\s*=\s*@\(\)", psd1);
        }
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Every_cmdlet_declares_its_output_type(string name) => Assert.NotEmpty(Attrs(Cmdlet(name), "OutputTypeAttribute"));

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Changes_support_ShouldProcess_and_reads_do_not(string name)
    {
        var a = Attr(Cmdlet(name), "CmdletAttribute")!;
        var supports = Named(a, "SupportsShouldProcess") as bool? ?? false;
        Assert.Equal(Changing.Contains(name.Split('-')[0]), supports);
        if (name == "Remove-S3MountService")
        {
            Assert.Equal(3, Convert.ToInt32(Named(a, "ConfirmImpact"))); // ConfirmImpact.High
        }
    }

    [Theory]
    [MemberData(nameof(NodeCommandNames))]
    public void Node_cmdlets_take_instances_from_the_pipeline_by_property_name_and_the_AWS_parameters(string name)
    {
        var t = Cmdlet(name);
        var ps = Parameters(t).ToDictionary(p => p.Name);
        var id = ps["InstanceId"];
        var idSets = Attrs(id, "ParameterAttribute").ToList();
        Assert.Single(idSets);
        Assert.Equal("InstanceId", Named(idSets[0], "ParameterSetName"));
        Assert.True(Named(idSets[0], "Mandatory") is true);
        Assert.True(Named(idSets[0], "ValueFromPipelineByPropertyName") is true);

        // Piped objects bring their InstanceId (or Root) through -InputObject, the one by-value parameter of every set.
        var input = Attrs(ps["InputObject"], "ParameterAttribute").Single();
        Assert.True(Named(input, "ValueFromPipeline") is true);
        Assert.Null(Named(input, "ParameterSetName"));
        Assert.Equal(typeof(string[]).FullName, id.PropertyType.FullName);
        Assert.Equal("Local", Named(Attr(t, "CmdletAttribute")!, "DefaultParameterSetName"));

        // The SSM parameters exist only in the two fleet modes, so -Region without -InstanceId or -Target fails at binding.
        foreach (var p in new[] { "MaxConcurrency", "MaxErrors", "TimeoutSeconds", "ExecutionTimeoutSeconds", "OutputS3BucketName", "OutputS3KeyPrefix", "OutputS3Region", "CloudWatchLogGroupName", "Comment", "Region", "EndpointUrl", "ProfileName", "ProfileLocation", "Credential", "AccessKey", "SecretKey", "SessionToken" })
        {
            Assert.True(ps.ContainsKey(p), $"{name} lacks -{p}");
            Assert.Equal(new[] { "InstanceId", "Target" }, Attrs(ps[p], "ParameterAttribute").Select(a => (string)Named(a, "ParameterSetName")!).OrderBy(x => x, StringComparer.Ordinal));
        }

        var target = Attrs(ps["Target"], "ParameterAttribute").Single();
        Assert.Equal("Target", Named(target, "ParameterSetName"));
        Assert.True(Named(target, "Mandatory") is true);

        string[] Aliases(string p) => Attr(ps[p], "AliasAttribute")?.ConstructorArguments[0].Value is IEnumerable<CustomAttributeTypedArgument> v ? v.Select(x => (string)x.Value!).ToArray() : Array.Empty<string>();
        Assert.Contains("StoredCredentials", Aliases("ProfileName"));
        Assert.Contains("AWSProfileName", Aliases("ProfileName"));
        Assert.Contains("AK", Aliases("AccessKey"));
        Assert.Contains("SK", Aliases("SecretKey"));
        Assert.Contains("ST", Aliases("SessionToken"));
        Assert.Contains("Profile", Aliases("ProfileName"));
        Assert.Contains("RegionToCall", Aliases("Region"));
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void At_most_one_parameter_takes_the_pipeline_by_value_per_set(string name)
    {
        var byValue = Parameters(Cmdlet(name)).SelectMany(p => Attrs(p, "ParameterAttribute").Where(a => Named(a, "ValueFromPipeline") is true)
            .Select(a => Named(a, "ParameterSetName") as string ?? "__AllParameterSets")).GroupBy(s => s);
        Assert.All(byValue, g => Assert.Single(g));
    }

    [Fact]
    public void Service_cmdlets_select_by_Name_and_Path_from_the_pipeline()
    {
        foreach (var name in Expected.Where(n => n.EndsWith("-S3MountService") && !n.StartsWith("New") && !MapCmdlets.Contains(n)))
        {
            var ps = Parameters(Cmdlet(name)).ToDictionary(p => p.Name);
            Assert.True(Named(Attr(ps["Name"], "ParameterAttribute")!, "ValueFromPipelineByPropertyName") is true, name);
            Assert.True(Named(Attr(ps["Path"], "ParameterAttribute")!, "ValueFromPipelineByPropertyName") is true, name);
            Assert.Equal("ServiceNameCompleter", ((Type)Attr(ps["Name"], "ArgumentCompleterAttribute")!.ConstructorArguments[0].Value!).Name);
            Assert.Equal("ServicePathCompleter", ((Type)Attr(ps["Path"], "ArgumentCompleterAttribute")!.ConstructorArguments[0].Value!).Name);
        }
    }

    [Fact]
    public void New_S3MountService_has_a_parameter_for_every_mount_s3_option()
    {
        var ps = Parameters(Cmdlet("New-S3MountService")).Select(p => p.Name).ToHashSet();
        foreach (var p in new[] { "Bucket", "Path", "Prefix", "User", "Group", "ReadOnly", "AllowDelete", "AllowOther", "Uid", "FileMode", "CacheDirectory", "MaxCacheSizeMiB", "MetadataTtl", "BucketRegion", "S3EndpointUrl", "S3Profile", "Region", "EndpointUrl", "NoSignRequest", "RequesterPays", "ExtraArgument", "NoStart", "NoEnable", "Force", "Root" })
        {
            Assert.Contains(p, ps);
        }

        var optionProps = _m.Engine("Model.MountOptions").GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Where(n => n != "Foreground");
        Assert.All(optionProps, p => Assert.Contains(p, ps));
    }

    [Fact]
    public void Export_S3MountBootstrap_takes_New_S3MountServices_mount_parameters_with_the_same_types_and_aliases()
    {
        var create = Parameters(Cmdlet("New-S3MountService")).ToDictionary(p => p.Name);
        var export = Parameters(Cmdlet("Export-S3MountBootstrap")).ToDictionary(p => p.Name);
        string Aliases(PropertyInfo p) => Attr(p, "AliasAttribute")?.ConstructorArguments[0].Value is IEnumerable<CustomAttributeTypedArgument> v ? string.Join(",", v.Select(x => (string)x.Value!)) : string.Empty;
        string Completer(PropertyInfo p) => Attr(p, "ArgumentCompleterAttribute")?.ConstructorArguments[0].Value is Type t ? t.Name : string.Empty;
        // -SkipBucketCheck is about sending (the admin-side check before a fleet call); an export sends nothing.
        var mountParameters = create.Values.Where(p => p.DeclaringType?.Name == "NewS3MountServiceCommand" && p.Name is not ("Root" or "InputObject" or "SkipBucketCheck")).ToList();
        Assert.True(mountParameters.Count > 50, mountParameters.Count.ToString());
        foreach (var p in mountParameters)
        {
            Assert.True(export.ContainsKey(p.Name), "Export-S3MountBootstrap lacks -" + p.Name);
            Assert.Equal(p.PropertyType.FullName, export[p.Name].PropertyType.FullName);
            Assert.Equal(Aliases(p), Aliases(export[p.Name]));
            Assert.Equal(Completer(p), Completer(export[p.Name]));
        }

        // Piped mounts are read whole from -InputObject (one object's fields never carry over to the next), so no mount
        // parameter binds from the pipeline on its own.
        Assert.True(Named(Attr(export["InputObject"], "ParameterAttribute")!, "ValueFromPipeline") is true);
        Assert.All(export.Values.Where(p => p.Name != "InputObject"), p => Assert.False(Attrs(p, "ParameterAttribute").Any(a => Named(a, "ValueFromPipelineByPropertyName") is true || Named(a, "ValueFromPipeline") is true), p.Name));
        Assert.DoesNotContain("InstanceId", export.Keys);
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Every_cmdlet_has_help_with_synopsis_parameters_and_examples(string name)
    {
        var help = XDocument.Load(Path.Combine(Repo.Root, "module", "en-US", "S3Mount.dll-Help.xml"));
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
        XNamespace dev = "http://schemas.microsoft.com/maml/dev/2004/10";
        var node = help.Root!.Elements(command + "command").SingleOrDefault(c => c.Element(command + "details")!.Element(command + "name")!.Value == name);
        Assert.True(node is not null, name + " has no help");
        Assert.False(string.IsNullOrWhiteSpace(node!.Element(command + "details")!.Element(maml + "description")!.Value), name + " synopsis");
        Assert.False(string.IsNullOrWhiteSpace(node.Element(maml + "description")?.Value), name + " description");
        var documented = node.Element(command + "parameters")!.Elements(command + "parameter")
            .ToDictionary(p => p.Element(maml + "name")!.Value, p => p.Element(maml + "description")?.Value ?? string.Empty);
        foreach (var p in Parameters(Cmdlet(name)))
        {
            Assert.True(documented.TryGetValue(p.Name, out var d) && d.Trim().Length > 0, $"{name} -{p.Name} is not described");
        }

        var examples = node.Element(command + "examples")!.Elements(command + "example").Select(e => e.Element(dev + "code")!.Value).ToList();
        Assert.True(examples.Count >= 2, name + " needs two examples");
        Assert.Contains(examples, e => e.Contains("-InstanceId") || e.Contains("-Target") || e.Contains("InstanceId"));
    }

    [Fact]
    public void Every_output_type_has_a_table_view()
    {
        var formats = XDocument.Load(Path.Combine(Repo.Root, "module", "S3Mount.format.ps1xml"));
        var viewed = formats.Descendants("View").Where(v => v.Element("TableControl") is not null).Select(v => v.Element("ViewSelectedBy")!.Element("TypeName")!.Value).ToHashSet();
        var outputs = _m.Cmdlets.SelectMany(t => Attrs(t, "OutputTypeAttribute")).SelectMany(a => (IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!)
            .Select(v => (Type)v.Value!).Where(t => t.Namespace == "S3Mount").Select(t => t.FullName!).Distinct();
        Assert.All(outputs, t => Assert.Contains(t, viewed));
    }

    [Fact]
    public void Public_parameters_are_not_AWS_SDK_types() =>
        Assert.All(_m.Cmdlets.SelectMany(Parameters), p => Assert.DoesNotContain("Amazon", p.PropertyType.FullName ?? string.Empty));
}
