# Stand-ins for the AWS.Tools commands the README's fleet tour uses, for sessions without AWS.Tools (the PowerShell
# Gallery is not served here). Dot-sourced in a fresh pwsh by tests/pester/ReadmeFleet.Tests.ps1. As AWS.Tools 5 does:
# the real AWS SDK for .NET that AWS.Tools 5 ships (AWSSDK.Core 4.0.102.14, AWSSDK.EC2 4.0.129.1, laid out under
# .tools/awssdk by 'dotnet build') loaded by path into the default load context, and compiled cmdlets against it:
#   Set-DefaultAWSRegion [-Region] <object> [-Scope <VariableScope>]
#       $StoredAWSRegion = the region's system name, set with SessionState.PSVariable.Set in the caller's scope (or
#       the -Scope given), exactly as AWS.Tools' SetDefaultRegionCmdlet sets it; nothing is output.
#   Get-EC2Instance [[-InstanceId] <object[]>] [-Filter <Amazon.EC2.Model.Filter[]>] [-Region <object>]
#       real Amazon.EC2.Model.Reservation objects (with Amazon.EC2.Model.Instance objects: InstanceId, type, state,
#       tags, ...) of an inventory given to Add-EC2StandInInstance, filtered as EC2's DescribeInstances filters
#       (filters ANDed, values ORed, '*' and '?' wildcards; instance-id, instance-state-name, tag:KEY, tag-key,
#       tag-value; another name fails as EC2 fails it). Each reservation holds only its matching instances. Like
#       every AWS.Tools cmdlet it needs a Region (-Region or $StoredAWSRegion) and credentials ($StoredAWSCredentials
#       or the environment), and fails without them.
#   New-AWSPSCredentialsStandIn -AccessKey -SecretKey
#       what Set-AWSCredential leaves in $StoredAWSCredentials: AWS.Tools' AWSPSCredentials wrapper (the SDK's
#       BasicAWSCredentials in a non-public Credentials property), compiled against that SDK.
# Types come from the loaded assemblies (never type literals: S3Mount's own AWS SDK lives in another load context).
param([Parameter(Mandatory)] [string] $SdkDirectory)

$script:AwsToolsCore = [System.Reflection.Assembly]::LoadFrom((Join-Path $SdkDirectory 'AWSSDK.Core.dll'))
$script:AwsToolsEc2 = [System.Reflection.Assembly]::LoadFrom((Join-Path $SdkDirectory 'AWSSDK.EC2.dll'))

# The SDK is built for .NET 8 (System.Runtime 8.0): the compiler's CS1701 notes about unifying it with this runtime's are expected.
$references = $AwsToolsCore.Location, $AwsToolsEc2.Location, [System.Management.Automation.PSCmdlet].Assembly.Location, 'System.Collections', 'System.Linq', 'System.Text.RegularExpressions'
$standIn = Add-Type -PassThru -IgnoreWarnings -WarningAction SilentlyContinue -ReferencedAssemblies $references -TypeDefinition @'
using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Text.RegularExpressions;
using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;

namespace Amazon.PowerShell.Common
{
    public enum VariableScope { Global, Local, Script, Private }

    /// <summary>The shape of AWS.Tools' wrapper that $StoredAWSCredentials holds.</summary>
    public class AWSPSCredentials
    {
        public AWSPSCredentials(AWSCredentials credentials, string name) { Credentials = credentials; Name = name; }
        internal AWSCredentials Credentials { get; private set; }
        internal string Name { get; private set; }
        public override string ToString() { return Name; }
    }

    [Cmdlet(VerbsCommon.Set, "DefaultAWSRegion")]
    [OutputType("None")]
    public sealed class SetDefaultAWSRegionCmdlet : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("RegionToCall")]
        public object Region { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public VariableScope Scope { get; set; }

        protected override void ProcessRecord()
        {
            var value = Region is PSObject p ? p.BaseObject : Region;
            var name = value as string ?? (value is RegionEndpoint e ? e.SystemName : Convert.ToString(PSObject.AsPSObject(value).Properties["Region"]?.Value ?? value));
            var region = RegionEndpoint.GetBySystemName(name);
            string scope = MyInvocation.BoundParameters.ContainsKey("Scope") ? Scope.ToString() + ":" : "";
            SessionState.PSVariable.Set(scope + "StoredAWSRegion", region.SystemName);
        }
    }
}

namespace Amazon.PowerShell.Cmdlets.EC2
{
    public static class EC2StandInInventory
    {
        public static readonly List<Reservation> Reservations = new List<Reservation>();

        public static Instance Add(string reservationId, string instanceId, string instanceType, string privateIp, IDictionary tags)
        {
            var reservation = Reservations.FirstOrDefault(r => r.ReservationId == reservationId);
            if (reservation == null)
            {
                reservation = new Reservation { ReservationId = reservationId, OwnerId = "123456789012", Instances = new List<Instance>() };
                Reservations.Add(reservation);
            }

            var instance = new Instance
            {
                InstanceId = instanceId,
                InstanceType = InstanceType.FindValue(instanceType),
                ImageId = "ami-0abcdef1234567890",
                Architecture = ArchitectureValues.X86_64,
                PlatformDetails = "Linux/UNIX",
                PrivateIpAddress = privateIp,
                LaunchTime = DateTime.UtcNow.AddHours(-2),
                Placement = new Placement { AvailabilityZone = "us-east-1a" },
                State = new InstanceState { Code = 16, Name = InstanceStateName.Running },
                Tags = tags.Keys.Cast<object>().Select(k => new Tag(Convert.ToString(k), Convert.ToString(tags[k]))).ToList(),
            };
            reservation.Instances.Add(instance);
            return instance;
        }
    }

    [Cmdlet(VerbsCommon.Get, "EC2Instance")]
    [OutputType("Amazon.EC2.Model.Reservation")]
    public sealed class GetEC2InstanceCmdlet : PSCmdlet
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public object[] InstanceId { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public Filter[] Filter { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("RegionToCall")]
        public object Region { get; set; }

        protected override void ProcessRecord()
        {
            if (Region == null && !(SessionState.PSVariable.GetValue("StoredAWSRegion") is string))
            {
                Fail(new InvalidOperationException("No region specified or obtained from persisted/shell defaults."), "InvalidOperationException");
            }

            if (SessionState.PSVariable.GetValue("StoredAWSCredentials") == null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID")))
            {
                Fail(new InvalidOperationException("No credentials specified or obtained from persisted/shell defaults."), "InvalidOperationException");
            }

            var ids = (InstanceId ?? new object[0]).Select(i => i is PSObject p ? p.BaseObject : i)
                .Select(i => i is Instance x ? x.InstanceId : Convert.ToString(i)).ToList();
            var filters = (Filter ?? new Filter[0]).ToList();
            foreach (var f in filters)
            {
                if (!(f.Name == "instance-id" || f.Name == "instance-state-name" || f.Name == "tag-key" || f.Name == "tag-value" || (f.Name ?? "").StartsWith("tag:")))
                {
                    Fail(new AmazonEC2Exception("The filter '" + f.Name + "' is invalid"), "Amazon.EC2.AmazonEC2Exception");
                }
            }

            foreach (var r in EC2StandInInventory.Reservations)
            {
                var hits = r.Instances.Where(i => (ids.Count == 0 || ids.Contains(i.InstanceId)) && filters.All(f => Matches(f, i))).ToList();
                if (hits.Count > 0)
                {
                    WriteObject(new Reservation { ReservationId = r.ReservationId, OwnerId = r.OwnerId, Instances = hits });
                }
            }
        }

        private static bool Matches(Filter f, Instance i)
        {
            var values = f.Values ?? new List<string>();
            IEnumerable<string> have;
            if (f.Name == "instance-id") have = new[] { i.InstanceId };
            else if (f.Name == "instance-state-name") have = new[] { i.State.Name.Value };
            else if (f.Name == "tag-key") have = i.Tags.Select(t => t.Key);
            else if (f.Name == "tag-value") have = i.Tags.Select(t => t.Value);
            else have = i.Tags.Where(t => t.Key == f.Name.Substring(4)).Select(t => t.Value);
            return have.Any(h => values.Any(v => Regex.IsMatch(h, "^" + Regex.Escape(v).Replace("\\*", ".*").Replace("\\?", ".") + "$")));
        }

        private void Fail(Exception e, string id)
        {
            ThrowTerminatingError(new ErrorRecord(e, id, ErrorCategory.InvalidOperation, this));
        }
    }
}
'@
$null = Import-Module -Assembly $standIn[0].Assembly -PassThru

function Add-EC2StandInInstance {
    # One instance of the EC2 inventory Get-EC2Instance answers from.
    param([Parameter(Mandatory)] [string] $ReservationId, [Parameter(Mandatory)] [string] $InstanceId, [string] $InstanceType = 'c5.xlarge',
        [string] $PrivateIpAddress = '10.0.0.10', [hashtable] $Tag = @{})
    $null = ($standIn | Where-Object Name -EQ 'EC2StandInInventory')::Add($ReservationId, $InstanceId, $InstanceType, $PrivateIpAddress, $Tag)
}

function New-AWSPSCredentialsStandIn {
    param([Parameter(Mandatory)] [string] $AccessKey, [Parameter(Mandatory)] [string] $SecretKey)
    $basic = $AwsToolsCore.GetType('Amazon.Runtime.BasicAWSCredentials', $true).GetConstructor([type[]]@([string], [string])).Invoke(@($AccessKey, $SecretKey))
    ($standIn | Where-Object Name -EQ 'AWSPSCredentials')::new($basic, 'AWS.Tools stand-in')
}
