// The cdk-nag acknowledgments of the dashboard stack, each reviewed (reasons in infra/stacks/dashboard-stack.ts);
// pinned by dashboard-stack.test.ts (the stack alone) and nag.test.ts (the whole app).

const HANDLER = 'CreditsDashboard/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB';

export const DASHBOARD_ACKNOWLEDGMENTS = [
  'AwsSolutions-CFR1@CreditsDashboard/Distribution',
  'AwsSolutions-CFR2@CreditsDashboard/Distribution',
  'AwsSolutions-CFR4@CreditsDashboard/Distribution',
  `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]@${HANDLER}`,
  `AwsSolutions-IAM5[Action::s3:GetObject*]@${HANDLER}`,
  `AwsSolutions-IAM5[Action::s3:GetBucket*]@${HANDLER}`,
  `AwsSolutions-IAM5[Action::s3:List*]@${HANDLER}`,
  `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]@${HANDLER}`,
  `AwsSolutions-IAM5[Action::s3:DeleteObject*]@${HANDLER}`,
  `AwsSolutions-IAM5[Action::s3:Abort*]@${HANDLER}`,
  `AwsSolutions-IAM5[Resource::<SiteE53D7754.Arn>/*]@${HANDLER}`,
  `AwsSolutions-IAM5[Resource::*]@${HANDLER}`,
  `AwsSolutions-L1@${HANDLER}`,
];
